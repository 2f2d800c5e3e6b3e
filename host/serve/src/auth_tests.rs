use super::*;
use axum::http::HeaderValue;

fn headers(auth: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Some(a) = auth {
        h.insert(AUTHORIZATION, HeaderValue::from_str(a).unwrap());
    }
    h
}

#[test]
fn both_schemes_are_accepted_and_others_refused() {
    let t = Token::new("s3cret-token\n").unwrap();
    assert_eq!(
        check(&headers(Some("Bearer s3cret-token")), Some(&t)),
        Auth::Granted
    );
    assert_eq!(
        check(&headers(Some("Splunk s3cret-token")), Some(&t)),
        Auth::Granted
    );
    assert_eq!(
        check(&headers(Some("splunk  s3cret-token")), Some(&t)),
        Auth::Granted
    );
    assert_eq!(
        check(&headers(Some("Bearer s3cret-tokem")), Some(&t)),
        Auth::Wrong
    );
    assert_eq!(
        check(&headers(Some("Bearer s3cret")), Some(&t)),
        Auth::Wrong
    );
    assert_eq!(
        check(&headers(Some("Basic czNjcmV0")), Some(&t)),
        Auth::Malformed
    );
    assert_eq!(
        check(&headers(Some("s3cret-token")), Some(&t)),
        Auth::Malformed
    );
    assert_eq!(check(&headers(None), Some(&t)), Auth::Missing);
    assert_eq!(check(&headers(None), None), Auth::Granted);
}

#[test]
fn unusable_tokens_are_refused() {
    assert_eq!(Token::new(" \n").unwrap_err(), TokenError::Empty);
    assert_eq!(
        Token::new("two words").unwrap_err(),
        TokenError::NotVisibleAscii
    );
    assert_eq!(format!("{:?}", Token::new("abc").unwrap()), "Token(..)");
    assert_eq!(Token::new(" abc\n").unwrap().length(), 3);
}
