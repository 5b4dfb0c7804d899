//! The authentication checks AWS makes before it looks at a request's body.
//!
//! Riffle does not verify signatures yet (any credentials are accepted), but
//! it answers unsigned and malformed-signature requests exactly as AWS does,
//! so clients misconfigured against Riffle fail the way they would on AWS.

use crate::error::AwsError;

/// What the request carries that authentication looks at.
#[derive(Clone, Copy, Debug, Default)]
pub struct Credentials<'a> {
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// Whether an `X-Amz-Date` or `Date` header is present.
    pub has_date: bool,
    /// The `X-Amz-Algorithm` query parameter of a presigned request.
    pub query_algorithm: Option<&'a str>,
    /// The raw query string (for presigned requests).
    pub query: &'a str,
}

/// Checks that the request is signed in a form AWS would accept.
///
/// # Errors
/// MissingAuthenticationTokenException, IncompleteSignatureException or
/// InvalidSignatureException, with AWS's messages.
pub fn check(credentials: Credentials<'_>) -> Result<(), AwsError> {
    match (credentials.authorization, credentials.query_algorithm) {
        (Some(_), Some(_)) => Err(AwsError::client(
            "InvalidSignatureException",
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
        )),
        (None, None) => Err(AwsError::client(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        )),
        (Some(header), None) => check_header(header, credentials.has_date),
        (None, Some(_)) => check_query(credentials.query),
    }
}

fn check_header(header: &str, has_date: bool) -> Result<(), AwsError> {
    let mut missing = String::new();
    // Checked on every request: no allocation unless something is missing.
    for (part, assignment) in [
        ("Credential", "Credential="),
        ("Signature", "Signature="),
        ("SignedHeaders", "SignedHeaders="),
    ] {
        if !header.contains(assignment) {
            missing.push_str(&format!(
                "Authorization header requires '{part}' parameter. "
            ));
        }
    }
    if !has_date {
        missing.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(AwsError::client(
            "IncompleteSignatureException",
            format!("{missing}Authorization={header}"),
        ))
    }
}

fn check_query(query: &str) -> Result<(), AwsError> {
    let has = |name: &str| {
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some(name))
    };
    let missing: String = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-SignedHeaders",
        "X-Amz-Date",
    ]
    .iter()
    .filter(|name| !has(name))
    .map(|name| format!("AWS query-string parameters must include '{name}'. "))
    .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(AwsError::client(
            "IncompleteSignatureException",
            format!("{missing}Re-examine the query-string parameters."),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_requests_are_missing_a_token() {
        let err = check(Credentials::default()).unwrap_err();
        assert_eq!(
            (err.type_name, err.message.as_deref()),
            (
                "MissingAuthenticationTokenException",
                Some("Missing Authentication Token")
            )
        );
    }

    #[test]
    fn incomplete_headers_name_every_missing_part() {
        let header = "AWS4- Signature=b Credential=a";
        let err = check(Credentials {
            authorization: Some(header),
            has_date: true,
            ..Credentials::default()
        })
        .unwrap_err();
        assert_eq!(err.type_name, "IncompleteSignatureException");
        assert_eq!(
            err.message.unwrap(),
            "Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4- Signature=b Credential=a"
        );
        let err = check(Credentials {
            authorization: Some("x"),
            has_date: false,
            ..Credentials::default()
        })
        .unwrap_err();
        assert!(
            err.message
                .unwrap()
                .contains("requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        );
    }

    #[test]
    fn complete_signatures_pass() {
        let header = "AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        assert!(
            check(Credentials {
                authorization: Some(header),
                has_date: true,
                ..Credentials::default()
            })
            .is_ok()
        );
    }
}
