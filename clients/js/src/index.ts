// @stsvend/credentials: AWS credentials from stsvend for the AWS SDK for JavaScript v3.

export { StsvendError } from './errors.js';
export { fromStsvend, type StsvendCredentials, type StsvendOptions } from './provider.js';
export type { PresignedPost, PresignedUrl, PresignPostRequest, PresignRequest } from './presign.js';
export type { Storage, StsvendIdentity, VendInfo } from './vend.js';
