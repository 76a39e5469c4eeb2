//! The one place a token may travel in the URL: `GET /v1/events?access_token=…`, because a
//! browser's `EventSource` cannot send an `Authorization` header. The token is taken out of
//! the URI before anything downstream sees it, and [`redacted`] keeps it out of the request
//! log line, which is written before auth runs.

use axum::http::{Method, Uri};

/// The endpoint that accepts its token in the query.
pub const EVENTS_PATH: &str = "/v1/events";
/// The query parameter that carries it.
pub const ACCESS_TOKEN_PARAM: &str = "access_token";

/// Whether `method` and `uri` name the one request that may carry its token in the query.
fn accepts_query_token(method: &Method, uri: &Uri) -> bool {
    method == Method::GET && uri.path() == EVENTS_PATH
}

/// For `GET /v1/events`: the `access_token` of the query, and the URI without it. `None`
/// for every other request, or when the query has no token.
pub(crate) fn take(method: &Method, uri: &Uri) -> Option<(String, Uri)> {
    if !accepts_query_token(method, uri) {
        return None;
    }
    let (token, rest) = split_token(uri.query()?);
    Some((token?, with_query(uri, rest.as_deref())))
}

/// The URI to log: any `access_token` value replaced by `REDACTED`, on every path (a token
/// pasted into the wrong URL must not reach the log either).
pub(crate) fn redacted(uri: &Uri) -> std::borrow::Cow<'_, Uri> {
    let Some(query) = uri.query() else {
        return std::borrow::Cow::Borrowed(uri);
    };
    if !has_token(query) {
        return std::borrow::Cow::Borrowed(uri);
    }
    let cleaned: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            form_urlencoded::parse(query.as_bytes()).map(|(key, value)| {
                if key == ACCESS_TOKEN_PARAM {
                    (key, "REDACTED".into())
                } else {
                    (key, value)
                }
            }),
        )
        .finish();
    std::borrow::Cow::Owned(with_query(uri, Some(&cleaned)))
}

fn has_token(query: &str) -> bool {
    form_urlencoded::parse(query.as_bytes()).any(|(key, _)| key == ACCESS_TOKEN_PARAM)
}

/// The first non-empty token of `query`, and the query without any `access_token` pair
/// (`None` when nothing is left).
fn split_token(query: &str) -> (Option<String>, Option<String>) {
    let mut token = None;
    let mut rest = form_urlencoded::Serializer::new(String::new());
    let mut kept = 0;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key == ACCESS_TOKEN_PARAM {
            let value = value.trim();
            if token.is_none() && !value.is_empty() {
                token = Some(value.to_owned());
            }
        } else {
            rest.append_pair(&key, &value);
            kept += 1;
        }
    }
    (token, (kept > 0).then(|| rest.finish()))
}

/// `uri` with its query replaced by `query` (or removed).
fn with_query(uri: &Uri, query: Option<&str>) -> Uri {
    let path_and_query = match query {
        Some(query) => format!("{}?{query}", uri.path()),
        None => uri.path().to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> Uri {
        text.parse().expect("valid URI")
    }

    #[test]
    fn the_events_stream_gives_up_its_query_token() {
        let (token, rest) = take(
            &Method::GET,
            &uri("/v1/events?access_token=wh_abc&queue=emails"),
        )
        .expect("token");
        assert_eq!(token, "wh_abc");
        assert_eq!(rest, uri("/v1/events?queue=emails"));
        let (token, rest) =
            take(&Method::GET, &uri("/v1/events?access_token=wh_abc")).expect("token");
        assert_eq!(token, "wh_abc");
        assert_eq!(rest, uri("/v1/events"));
    }

    #[test]
    fn no_other_request_takes_a_query_token() {
        for (method, text) in [
            (Method::GET, "/v1/jobs?access_token=wh_abc"),
            (Method::POST, "/v1/events?access_token=wh_abc"),
            (Method::GET, "/v1/events"),
            (Method::GET, "/v1/events?access_token="),
        ] {
            assert!(take(&method, &uri(text)).is_none(), "{method} {text}");
        }
    }

    #[test]
    fn log_lines_never_show_a_token() {
        let pasted = uri("/v1/jobs?state=dead&access_token=wh_secret");
        let logged = redacted(&pasted);
        assert_eq!(
            logged.to_string(),
            "/v1/jobs?state=dead&access_token=REDACTED"
        );
        let plain = uri("/v1/jobs?state=dead");
        assert!(matches!(redacted(&plain), std::borrow::Cow::Borrowed(_)));
    }
}
