//! NATS server URLs as configured (`nats://user:password@host:4222`, `nats://token@host`, or a
//! comma-separated list of such): the credentials taken out, so they reach the NATS client as
//! options and never sit in a URL it may log, and redacted copies for logs and errors.

use std::fmt;

use percent_encoding::percent_decode_str;

/// What replaces credentials in logs and errors.
const REDACTED: &str = "<redacted>";

/// Credentials a NATS URL carried.
#[derive(Clone, PartialEq, Eq)]
pub enum UrlCredentials {
    /// `user:password@`.
    UserPassword {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// `token@`.
    Token(String),
}

impl fmt::Debug for UrlCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlCredentials::UserPassword { .. } => "UserPassword(<redacted>)",
            UrlCredentials::Token(_) => "Token(<redacted>)",
        })
    }
}

/// A server list without credentials, and the credentials it carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitUrl {
    /// The servers, comma-separated, without credentials.
    pub servers: String,
    /// The credentials, when a server carried any.
    pub credentials: Option<UrlCredentials>,
}

/// Why a URL's credentials cannot be used; never quotes them.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlCredentialsError {
    /// The servers of one list carry different credentials.
    #[error("the servers in the nats url carry different credentials; use one user for all")]
    Mixed,
    /// Percent-decoding the credentials gave bytes that are not UTF-8.
    #[error("the credentials in the nats url are not valid percent-encoded utf-8")]
    NotUtf8,
}

/// One server of a list: `(scheme with "://", credentials as written, the rest)`.
fn parts(server: &str) -> (&str, Option<&str>, &str) {
    let (scheme, rest) = match server.find("://") {
        Some(at) => server.split_at(at + 3),
        None => ("", server),
    };
    // The authority ends at the first '/', '?' or '#'; credentials end at its last '@'.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..authority_end).unwrap_or(rest);
    match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = rest.split_at(at);
            (scheme, Some(userinfo), host.get(1..).unwrap_or(""))
        }
        None => (scheme, None, rest),
    }
}

fn decode(text: &str) -> Result<String, UrlCredentialsError> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| UrlCredentialsError::NotUtf8)
}

/// Takes the credentials out of `url` (`user:password@` or `token@`, percent-decoded). Every
/// server of a list that carries credentials must carry the same ones.
pub fn split_credentials(url: &str) -> Result<SplitUrl, UrlCredentialsError> {
    let mut servers = Vec::new();
    let mut credentials = None;
    for server in url.split(',') {
        let (scheme, userinfo, host) = parts(server);
        servers.push(format!("{scheme}{host}"));
        let Some(userinfo) = userinfo.filter(|u| !u.is_empty()) else {
            continue;
        };
        let found = match userinfo.split_once(':') {
            Some((user, password)) => UrlCredentials::UserPassword {
                user: decode(user)?,
                password: decode(password)?,
            },
            None => UrlCredentials::Token(decode(userinfo)?),
        };
        match &credentials {
            None => credentials = Some(found),
            Some(known) if *known == found => {}
            Some(_) => return Err(UrlCredentialsError::Mixed),
        }
    }
    Ok(SplitUrl {
        servers: servers.join(","),
        credentials,
    })
}

/// `url` with any `user:password@` (or `token@`) part replaced, for logs and errors.
pub fn redact_url(url: &str) -> String {
    url.split(',')
        .map(|server| match parts(server) {
            (scheme, Some(_), host) => format!("{scheme}{REDACTED}@{host}"),
            (_, None, _) => server.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `text` with every credential of `url` replaced, as written and percent-decoded: an error of a
/// client library may quote the URL it was given.
pub fn redact_credentials(text: &str, url: &str) -> String {
    let mut secrets = Vec::new();
    for server in url.split(',') {
        let Some(userinfo) = parts(server).1.filter(|u| !u.is_empty()) else {
            continue;
        };
        secrets.push(userinfo.to_owned());
        let secret = userinfo.split_once(':').map_or(userinfo, |(_, p)| p);
        if !secret.is_empty() {
            secrets.push(secret.to_owned());
            if let Ok(decoded) = decode(secret) {
                secrets.push(decoded);
            }
        }
    }
    // Longest first, so a secret inside another is not replaced half.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(secret.as_str(), REDACTED);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_nats_url_never_reach_the_logs() {
        assert_eq!(
            redact_url("nats://user:s3cret@nats:4222"),
            "nats://<redacted>@nats:4222"
        );
        assert_eq!(redact_url("nats://nats:4222"), "nats://nats:4222");
        assert_eq!(redact_url("tok3n@nats:4222"), "<redacted>@nats:4222");
        assert_eq!(
            redact_url("nats://a:p1@n1:4222,nats://b:p2@n2:4222"),
            "nats://<redacted>@n1:4222,nats://<redacted>@n2:4222"
        );
        assert_eq!(
            redact_url("nats://u:p@ss@n1:4222/x@y"),
            "nats://<redacted>@n1:4222/x@y"
        );
    }

    #[test]
    fn a_client_error_quoting_the_url_loses_its_credentials() {
        let text = redact_credentials(
            "failed to connect to nats://user:s3cr%25t@nats:4222 (pass s3cr%t): refused",
            "nats://user:s3cr%25t@nats:4222",
        );
        assert!(!text.contains("s3cr"), "{text}");
        let text = redact_credentials(
            "failed to connect to nats://user:s3cret@nats:4222: refused",
            "nats://user:s3cret@nats:4222",
        );
        assert!(!text.contains("s3cret"), "{text}");
        assert!(!text.contains("user:"), "{text}");
    }

    #[test]
    fn credentials_are_taken_out_of_the_url_decoded() {
        let split = split_credentials("nats://us%40r:p%3Ass@n1:4222,nats://n2:4222").unwrap();
        assert_eq!(split.servers, "nats://n1:4222,nats://n2:4222");
        assert_eq!(
            split.credentials,
            Some(UrlCredentials::UserPassword {
                user: "us@r".into(),
                password: "p:ss".into()
            })
        );
        let split = split_credentials("t0ken@n1:4222").unwrap();
        assert_eq!(split.servers, "n1:4222");
        assert_eq!(
            split.credentials,
            Some(UrlCredentials::Token("t0ken".into()))
        );
        assert_eq!(
            split_credentials("nats://n1:4222").unwrap().credentials,
            None
        );
        assert_eq!(
            split_credentials("nats://a:1@n1,nats://a:2@n2"),
            Err(UrlCredentialsError::Mixed)
        );
        assert_eq!(
            split_credentials("nats://a:%ff@n1"),
            Err(UrlCredentialsError::NotUtf8)
        );
    }

    #[test]
    fn split_credentials_never_show_the_secret() {
        let split = split_credentials("nats://user:secret@n1").unwrap();
        let shown = format!("{split:?}");
        assert!(!shown.contains("secret"), "{shown}");
        let error = split_credentials("nats://a:secret1@n1,nats://a:secret2@n2").unwrap_err();
        assert!(!format!("{error} {error:?}").contains("secret"));
    }
}
