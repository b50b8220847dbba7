//! Token checks (README "How it works", SECURITY.md "Token checks"): the matrix of bad tokens,
//! the issuer's JWKS (refresh, origin, redirects, size), and real tokens from the Auth0
//! stand-in.

mod auth0;
mod jwks;
mod matrix;
