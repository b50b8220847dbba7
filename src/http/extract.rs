//! The authenticated caller, extracted from `Authorization: Bearer <token>`.

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures::future::LocalBoxFuture;

use super::error::ApiError;
use crate::usecase::Failure;
use crate::usecase::caller::{Authenticator, Caller};

pub struct Authenticated(pub Arc<Caller>);

/// Extracts the token from the one Authorization header. The scheme is case-insensitive
/// (RFC 7235). That the token is made of token68 characters is checked by the verifier, and
/// only when the token is not one it accepted before (`auth::Verifier::verify_any`): the warm path
/// does not scan the token twice.
pub fn bearer_token(req: &HttpRequest) -> Result<&str, ApiError> {
    let mut values = req.headers().get_all(AUTHORIZATION);
    let value = values.next().ok_or(ApiError::MissingToken)?;
    if values.next().is_some() {
        return Err(ApiError::BadAuthorization("more than one Authorization header"));
    }
    let value = std::str::from_utf8(value.as_bytes())
        .map_err(|_| ApiError::BadAuthorization("Authorization header is not ASCII"))?;
    let (scheme, rest) = value.split_once(' ').ok_or(ApiError::BadAuthorization(
        "Authorization header is not `Bearer <token>`",
    ))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::BadAuthorization("Authorization scheme must be Bearer"));
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(ApiError::BadAuthorization("bearer token contains invalid characters"));
    }
    Ok(token)
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let authenticator = req
                .app_data::<web::Data<Authenticator>>()
                .ok_or_else(|| Failure::internal("token verifier missing", &std::io::Error::other("not wired")))?;
            let token = bearer_token(&req)?;
            let caller = authenticator.user(token).await?;
            req.extensions_mut().insert(caller.user_id.clone());
            Ok(Self(caller))
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn parse(values: &[&str]) -> Result<String, ApiError> {
        let mut req = TestRequest::default();
        for v in values {
            req = req.append_header((AUTHORIZATION, *v));
        }
        bearer_token(&req.to_http_request()).map(str::to_owned)
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_spaces_are_tolerated() {
        assert_eq!(parse(&["Bearer abc.def.ghi"]).unwrap(), "abc.def.ghi");
        assert_eq!(parse(&["bearer abc"]).unwrap(), "abc");
        assert_eq!(parse(&["BEARER   abc"]).unwrap(), "abc");
    }

    #[test]
    fn malformed_headers_are_refused() {
        assert!(matches!(parse(&[]), Err(ApiError::MissingToken)));
        for bad in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearerabc", "Token abc"] {
            assert!(matches!(parse(&[bad]), Err(ApiError::BadAuthorization(_))), "{bad}");
        }
        assert!(matches!(
            parse(&["Bearer a", "Bearer b"]),
            Err(ApiError::BadAuthorization(_))
        ));
    }
}
