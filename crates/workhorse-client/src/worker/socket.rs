//! The worker's WebSocket to `GET /v1/workers/connect`: JSON text frames carrying
//! [`ClientMessage`] and [`ServerMessage`].

use crate::error::{ClientError, root_cause, with_ca_hint};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::rustls::ClientConfig;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::AUTHORIZATION;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use workhorse_protocol::{ClientMessage, Problem, ServerMessage};

/// How long the server may take to answer `hello`.
const WELCOME_TIMEOUT: Duration = Duration::from_secs(10);

/// The timing the server asked for in its welcome.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Welcome {
    pub heartbeat: Duration,
}

/// An open worker session socket.
pub(crate) struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The server's base URL, for error messages.
    url: String,
}

impl Socket {
    /// Connects (with `token` as a bearer token), says `hello`, and waits for the welcome.
    /// `tls` holds the roots a `wss://` server's certificate must chain to. No request
    /// timeout applies here: once open, heartbeats tell whether the session lives.
    pub(crate) async fn open(
        base_url: &str,
        token: Option<&str>,
        tls: &Arc<ClientConfig>,
        hello: &ClientMessage,
    ) -> Result<(Socket, Welcome), ClientError> {
        let request = upgrade_request(base_url, token)?;
        let connector = Connector::Rustls(Arc::clone(tls));
        let (ws, _) =
            tokio_tungstenite::connect_async_tls_with_config(request, None, true, Some(connector))
                .await
                .map_err(|e| connect_error(base_url, e))?;
        let mut socket = Socket {
            ws,
            url: base_url.to_owned(),
        };
        socket.send(hello).await?;
        let welcome = tokio::time::timeout(WELCOME_TIMEOUT, socket.recv())
            .await
            .map_err(|_| socket.error("the server did not answer hello in time"))??;
        match welcome {
            Some(ServerMessage::Welcome { heartbeat_ms, .. }) => Ok((
                socket,
                Welcome {
                    heartbeat: Duration::from_millis(heartbeat_ms.max(1)),
                },
            )),
            Some(ServerMessage::Error { problem, .. }) => Err(ClientError::Api {
                status: problem.status,
                problem,
            }),
            Some(other) => Err(socket.error(&format!("expected a welcome, got {other:?}"))),
            None => Err(socket.error("the server closed the session before its welcome")),
        }
    }

    /// Sends one message.
    pub(crate) async fn send(&mut self, message: &ClientMessage) -> Result<(), ClientError> {
        let text = serde_json::to_string(message).map_err(|source| ClientError::Payload {
            what: "a worker message",
            source,
        })?;
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| self.error(&root_cause(&e)))
    }

    /// The next message; `None` once the server closed the session. Cancel-safe.
    pub(crate) async fn recv(&mut self) -> Result<Option<ServerMessage>, ClientError> {
        loop {
            let frame = match self.ws.next().await {
                None => return Ok(None),
                Some(Ok(frame)) => frame,
                Some(Err(e)) => return Err(self.error(&root_cause(&e))),
            };
            let text = match frame {
                Message::Text(text) => text,
                Message::Close(_) => return Ok(None),
                // Pings are answered by tungstenite itself; nothing else is expected.
                _ => continue,
            };
            return serde_json::from_str(text.as_str())
                .map(Some)
                .map_err(|e| self.error(&format!("unreadable server message: {e}")));
        }
    }

    /// Closes the session politely; errors are moot at that point.
    pub(crate) async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    fn error(&self, reason: &str) -> ClientError {
        ClientError::Session {
            url: self.url.clone(),
            reason: reason.to_owned(),
        }
    }
}

/// The WebSocket upgrade request, carrying the API token if there is one.
fn upgrade_request(base_url: &str, token: Option<&str>) -> Result<Request, ClientError> {
    let ws_url = format!("{}/v1/workers/connect", ws_base(base_url));
    let invalid = |reason: String| ClientError::InvalidUrl {
        url: base_url.to_owned(),
        reason,
    };
    let mut request = ws_url
        .into_client_request()
        .map_err(|e| invalid(root_cause(&e)))?;
    if let Some(token) = token {
        let value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| invalid("the API token holds characters a header cannot".to_owned()))?;
        request.headers_mut().insert(AUTHORIZATION, value);
    }
    Ok(request)
}

/// A failed upgrade: an HTTP refusal (bad token, not a Workhorse server) carries the
/// server's problem details; anything else means the server could not be reached.
fn connect_error(base_url: &str, error: WsError) -> ClientError {
    let WsError::Http(response) = error else {
        return ClientError::Unreachable {
            url: base_url.to_owned(),
            reason: with_ca_hint(root_cause(&error)),
        };
    };
    let status = response.status().as_u16();
    let problem = response
        .body()
        .as_deref()
        .and_then(|body| serde_json::from_slice::<Problem>(body).ok());
    match problem {
        Some(problem) => ClientError::Api { status, problem },
        // Not a Workhorse server (or a proxy in front of one): the status is all there is.
        None => ClientError::Api {
            status,
            problem: Problem {
                kind: "about:blank".to_owned(),
                title: "Worker session refused".to_owned(),
                status,
                detail: format!("the server refused the worker session: HTTP {status}"),
                field: None,
            },
        },
    }
}

/// `http://…` → `ws://…`, `https://…` → `wss://…`.
fn ws_base(base_url: &str) -> String {
    if let Some(rest) = base_url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base_url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base_url.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_become_websocket_urls() {
        assert_eq!(ws_base("http://127.0.0.1:7431"), "ws://127.0.0.1:7431");
        assert_eq!(ws_base("https://wh.example/x"), "wss://wh.example/x");
    }
}
