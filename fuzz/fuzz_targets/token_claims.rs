//! Well-formed, really signed tokens with fuzzed headers and claims, checked against a model
//! of the README's token rules.
//!
//! Each input picks a signer (the test keys, another key under the test kid, HS256 keyed with
//! the RSA public key, garbage), an algorithm, a kid, `typ`, `crit`, `jku`, and every claim the
//! verifier reads. The model says accept, reject, or "either" (for raw times too close to a
//! boundary to call), and the real `Verifier` must agree:
//! - accepted ⇒ signed by the test key that the kid names, with a configured algorithm;
//! - every rule the model can decide (issuer, audience, expiry and maximum lifetime, nbf, iat,
//!   sub, client credentials, typ, crit) gives the same outcome;
//! - an accepted token's user id is `UserId::derive(ISSUER, sub)` and stable, and its grants are
//!   the `scope` words plus `permissions`.

#![no_main]

mod common;

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use common::{AUDIENCE, ISSUER, Issuer, KID_EC, KID_HMAC, KID_RSA, LEEWAY_SECONDS, MAX_LIFETIME_SECONDS};
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use stsvend::identity::UserId;

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Signer {
    Ec,
    Rsa,
    /// Another EC key: a forged token under the test kid.
    EcOther,
    /// HS256 keyed with the RSA public key (algorithm confusion).
    HmacWithRsaPublic,
    /// Random bytes as the signature.
    Garbage,
}

#[derive(Arbitrary, Debug, Clone, PartialEq)]
enum Alg {
    Known(KnownAlg),
    /// Any text, e.g. `none`, `RS256 `, `rs256`.
    Other(String),
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum KnownAlg {
    Es256,
    Rs256,
    Ps256,
    Rs512,
    Hs256,
    EdDsa,
}

impl KnownAlg {
    fn algorithm(self) -> Algorithm {
        match self {
            Self::Es256 => Algorithm::ES256,
            Self::Rs256 => Algorithm::RS256,
            Self::Ps256 => Algorithm::PS256,
            Self::Rs512 => Algorithm::RS512,
            Self::Hs256 => Algorithm::HS256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

#[derive(Arbitrary, Debug, Clone, PartialEq)]
enum Kid {
    Ec,
    Rsa,
    Hmac,
    Missing,
    Other(String),
}

#[derive(Arbitrary, Debug, Clone, PartialEq)]
enum Text {
    Missing,
    Good,
    Other(String),
    NotAString(i64),
}

#[derive(Arbitrary, Debug, Clone, PartialEq)]
enum Audience {
    Missing,
    Good,
    /// An array that has the audience at `index % (len + 1)` when `with_good`.
    Array {
        others: Vec<String>,
        with_good: bool,
        index: u8,
    },
    Other(String),
}

#[derive(Arbitrary, Debug, Clone, PartialEq)]
enum Time {
    Missing,
    /// An hour or more in the past / future: far from any leeway boundary.
    Past(u16),
    Future(u16),
    Raw(i64),
    Text(String),
}

#[derive(Arbitrary, Debug, Clone, PartialEq)]
enum Gty {
    ClientCredentials,
    Other(String),
    List(Vec<String>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    signer: Signer,
    garbage: Vec<u8>,
    alg: Alg,
    kid: Kid,
    typ: Text,
    crit: bool,
    jku: bool,
    iss: Text,
    aud: Audience,
    sub: Option<String>,
    exp: Time,
    nbf: Time,
    iat: Time,
    scope: Option<String>,
    permissions: Option<Vec<String>>,
    gty: Option<Gty>,
    azp: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Accept,
    Reject,
    Either,
}

impl Verdict {
    fn and(self, other: Self) -> Self {
        match (self, other) {
            (Self::Reject, _) | (_, Self::Reject) => Self::Reject,
            (Self::Either, _) | (_, Self::Either) => Self::Either,
            _ => Self::Accept,
        }
    }
    fn from(ok: bool) -> Self {
        if ok { Self::Accept } else { Self::Reject }
    }
}

fn time_value(t: &Time, now: u64) -> Option<Value> {
    match t {
        Time::Missing => None,
        Time::Past(s) => Some(json!(now - 3600 - u64::from(*s))),
        Time::Future(s) => Some(json!(now + 3600 + u64::from(*s))),
        Time::Raw(n) => Some(json!(n)),
        Time::Text(s) => Some(json!(s)),
    }
}

fn text_value(t: &Text, good: &str) -> Option<Value> {
    match t {
        Text::Missing => None,
        Text::Good => Some(json!(good)),
        Text::Other(s) => Some(json!(s)),
        Text::NotAString(n) => Some(json!(n)),
    }
}

fuzz_target!(|input: Input| {
    let issuer = Issuer::get();
    let now = common::now();

    // Header.
    let alg_name = match &input.alg {
        Alg::Known(a) => format!("{:?}", a.algorithm()),
        Alg::Other(s) => s.clone(),
    };
    let kid = match &input.kid {
        Kid::Ec => Some(KID_EC.to_owned()),
        Kid::Rsa => Some(KID_RSA.to_owned()),
        Kid::Hmac => Some(KID_HMAC.to_owned()),
        Kid::Missing => None,
        Kid::Other(s) => Some(s.clone()),
    };
    let mut header = json!({ "alg": alg_name });
    if let Some(k) = &kid {
        header["kid"] = json!(k);
    }
    if let Some(t) = text_value(&input.typ, "at+jwt") {
        header["typ"] = t;
    }
    if input.crit {
        header["crit"] = json!(["exp"]);
    }
    if input.jku {
        // Must be ignored: keys come only from the configured JWKS.
        header["jku"] = json!("http://127.0.0.1:9/jwks.json");
    }

    // Claims.
    let mut claims = serde_json::Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            claims.insert(k.to_owned(), v);
        }
    };
    put("iss", text_value(&input.iss, ISSUER));
    put(
        "aud",
        match &input.aud {
            Audience::Missing => None,
            Audience::Good => Some(json!(AUDIENCE)),
            Audience::Array {
                others,
                with_good,
                index,
            } => {
                let mut list = others.clone();
                if *with_good {
                    list.insert(usize::from(*index) % (list.len() + 1), AUDIENCE.to_owned());
                }
                Some(json!(list))
            }
            Audience::Other(s) => Some(json!(s)),
        },
    );
    put("sub", input.sub.as_ref().map(|s| json!(s)));
    put("exp", time_value(&input.exp, now));
    put("nbf", time_value(&input.nbf, now));
    put("iat", time_value(&input.iat, now));
    put("scope", input.scope.as_ref().map(|s| json!(s)));
    put("permissions", input.permissions.as_ref().map(|p| json!(p)));
    put(
        "gty",
        input.gty.as_ref().map(|g| match g {
            Gty::ClientCredentials => json!("client-credentials"),
            Gty::Other(s) => json!(s),
            Gty::List(l) => json!(l),
        }),
    );
    put("azp", input.azp.as_ref().map(|s| json!(s)));

    // Sign.
    let message = format!(
        "{}.{}",
        common::b64(header.to_string().as_bytes()),
        common::b64(Value::Object(claims.clone()).to_string().as_bytes())
    );
    let signing_alg = match &input.alg {
        Alg::Known(a) => Some(a.algorithm()),
        Alg::Other(_) => None,
    };
    let hmac_key;
    let key: Option<&EncodingKey> = match input.signer {
        Signer::Ec => Some(&issuer.ec),
        Signer::Rsa => Some(&issuer.rsa),
        Signer::EcOther => Some(&issuer.ec_other),
        Signer::HmacWithRsaPublic => {
            hmac_key = EncodingKey::from_secret(&issuer.rsa_public_bytes).ok();
            hmac_key.as_ref()
        }
        Signer::Garbage => None,
    };
    let signature = match (key, signing_alg) {
        (Some(key), Some(alg)) => jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).ok(),
        _ => None,
    };
    let genuinely_signed = signature.is_some();
    let signature = signature.unwrap_or_else(|| common::b64(&input.garbage));
    let token = format!("{message}.{signature}");

    // The model.
    let key_ok = genuinely_signed
        && match (kid.as_deref(), input.signer, &input.alg) {
            (Some(KID_EC), Signer::Ec, Alg::Known(KnownAlg::Es256)) => true,
            (Some(KID_RSA), Signer::Rsa, Alg::Known(KnownAlg::Rs256 | KnownAlg::Ps256)) => true,
            _ => false,
        };
    let typ_ok = match &input.typ {
        Text::Missing | Text::Good => Verdict::Accept,
        Text::Other(s) => {
            Verdict::from(["jwt", "at+jwt", "application/at+jwt"].contains(&s.to_ascii_lowercase().as_str()))
        }
        Text::NotAString(_) => Verdict::Reject,
    };
    let iss_ok = match &input.iss {
        Text::Good => Verdict::Accept,
        Text::Other(s) => Verdict::from(s == ISSUER),
        Text::Missing | Text::NotAString(_) => Verdict::Reject,
    };
    let aud_ok = match &input.aud {
        Audience::Good => Verdict::Accept,
        Audience::Array { others, with_good, .. } => Verdict::from(*with_good || others.iter().any(|a| a == AUDIENCE)),
        Audience::Other(s) => Verdict::from(s == AUDIENCE),
        Audience::Missing => Verdict::Reject,
    };
    let exp_ok = match &input.exp {
        Time::Future(_) => Verdict::Accept,
        Time::Missing | Time::Past(_) => Verdict::Reject,
        // Not after now + max lifetime: a "forever" token is refused.
        Time::Raw(n) => match u64::try_from(*n) {
            Err(_) => Verdict::Reject,
            Ok(n) if n > now + 3600 && n < now + MAX_LIFETIME_SECONDS - 3600 => Verdict::Accept,
            Ok(n) if n + LEEWAY_SECONDS + 3600 < now || n > now + MAX_LIFETIME_SECONDS + 3600 => Verdict::Reject,
            Ok(_) => Verdict::Either,
        },
        Time::Text(_) => Verdict::Reject,
    };
    // iat, when present, is an integer not in the future.
    let iat_ok = match &input.iat {
        Time::Missing | Time::Past(_) => Verdict::Accept,
        Time::Future(_) | Time::Text(_) => Verdict::Reject,
        Time::Raw(n) => match u64::try_from(*n) {
            Err(_) => Verdict::Reject,
            Ok(n) if n + 3600 < now => Verdict::Accept,
            Ok(n) if n > now + LEEWAY_SECONDS + 3600 => Verdict::Reject,
            Ok(_) => Verdict::Either,
        },
    };
    let nbf_ok = match &input.nbf {
        Time::Missing | Time::Past(_) => Verdict::Accept,
        Time::Future(_) => Verdict::Reject,
        Time::Raw(_) | Time::Text(_) => Verdict::Either,
    };
    let client_credentials = input.sub.as_deref().is_some_and(|s| s.ends_with("@clients"))
        || match &input.gty {
            Some(Gty::ClientCredentials) => true,
            Some(Gty::Other(s)) => s == "client-credentials",
            Some(Gty::List(l)) => l.iter().any(|g| g == "client-credentials"),
            None => false,
        };
    let sub_ok = Verdict::from(
        input
            .sub
            .as_deref()
            .is_some_and(|s| !s.is_empty() && s.len() <= 1024 && !client_credentials),
    );
    let expected = Verdict::from(key_ok && !input.crit)
        .and(typ_ok)
        .and(iss_ok)
        .and(aud_ok)
        .and(exp_ok)
        .and(nbf_ok)
        .and(iat_ok)
        .and(sub_ok);

    let outcome = issuer.verify(&token);
    if common::debug() {
        eprintln!(
            "token_claims: expected {expected:?}, got {:?}",
            outcome.as_ref().map(|c| c.user_id.as_str())
        );
    }
    match (&outcome, expected) {
        (Ok(_), Verdict::Reject) => panic!("accepted a token the rules reject: {input:#?}\n{token}"),
        (Err(e), Verdict::Accept) => panic!("rejected a good token ({e:?}): {input:#?}\n{token}"),
        _ => {}
    }
    let Ok(caller) = outcome else { return };
    assert!(key_ok, "accepted a token not signed by the test key its kid names");

    let sub = input.sub.as_deref().expect("accepted tokens have a sub");
    assert_eq!(caller.subject, sub);
    assert_eq!(caller.user_id, UserId::derive(ISSUER, sub));
    assert_eq!(
        issuer.verify(&token).map(|c| c.user_id.clone()).ok(),
        Some(caller.user_id.clone())
    );
    let mut grants: BTreeSet<String> = input
        .scope
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    grants.extend(input.permissions.clone().unwrap_or_default());
    // Sorted, without duplicates: the set's order.
    let grants: Vec<&str> = grants.iter().map(String::as_str).collect();
    assert_eq!(caller.grants.iter().map(|g| &**g).collect::<Vec<_>>(), grants);
    assert_eq!(caller.client_id, input.azp);
});
