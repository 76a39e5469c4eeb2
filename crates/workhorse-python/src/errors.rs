//! The exception classes, what each Rust error becomes, and the parsing of request
//! documents (which fails before anything is sent).

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};
use serde::de::DeserializeOwned;
use workhorse_client::ClientError;

create_exception!(
    workhorse._native,
    WorkhorseError,
    PyException,
    "Base of every error raised by Workhorse. `str(e)` is a message meant for people."
);
create_exception!(
    workhorse._native,
    ServerUnavailable,
    WorkhorseError,
    "No connection could be made, or the exchange broke off. The message names the URL."
);
create_exception!(
    workhorse._native,
    ApiError,
    WorkhorseError,
    "The server refused the request (problem+json).\n\n\
     `args == (message, status, problem)`: `status` the HTTP status, `problem` the\n\
     problem+json document as JSON text (its `detail`, and `field` for bad input)."
);
create_exception!(
    workhorse._native,
    InvalidRequest,
    WorkhorseError,
    "A request document was refused before it was sent (bad JSON, unknown field, bad URL):\n\
     nothing was sent and nothing changed."
);

/// `WorkhorseTimeout` derives from two bases (`create_exception!` takes one), so Python
/// makes it: `except TimeoutError` catches it as well as `except WorkhorseError`.
const TIMEOUT_CLASS: &std::ffi::CStr = c"
class WorkhorseTimeout(WorkhorseError, TimeoutError):
    \"\"\"The server did not answer within the client's timeout (plus the wait of a long
    poll). The message names the URL, the path and the time waited. The request may or
    may not have taken effect.\"\"\"

WorkhorseTimeout.__module__ = 'workhorse._native'
";

/// The `WorkhorseTimeout` class, made by [`register`].
static TIMEOUT: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `ApiError`'s `status` and `problem`, read from its `args`, and a `str()` that is the
/// message alone (not the tuple of all three).
const API_ERROR_MEMBERS: &std::ffi::CStr = c"
def _arg(index, doc):
    return property(lambda self: self.args[index] if len(self.args) > index else None, doc=doc)

ApiError.status = _arg(1, 'The HTTP status.')
ApiError.problem = _arg(2, 'The problem+json document, as JSON text.')
ApiError.__str__ = lambda self: str(self.args[0]) if self.args else ''
";

/// Adds the exception classes to the module.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    let api_error = py.get_type::<ApiError>();
    let globals = PyDict::new(py);
    globals.set_item("ApiError", &api_error)?;
    py.run(API_ERROR_MEMBERS, Some(&globals), None)?;
    module.add("WorkhorseError", py.get_type::<WorkhorseError>())?;
    module.add("ServerUnavailable", py.get_type::<ServerUnavailable>())?;
    module.add("ApiError", api_error)?;
    module.add("InvalidRequest", py.get_type::<InvalidRequest>())?;
    let globals = PyDict::new(py);
    globals.set_item("WorkhorseError", py.get_type::<WorkhorseError>())?;
    py.run(TIMEOUT_CLASS, Some(&globals), None)?;
    let timeout = globals
        .get_item("WorkhorseTimeout")?
        .ok_or_else(|| PyException::new_err("WorkhorseTimeout was not made"))?
        .cast_into::<PyType>()?;
    module.add("WorkhorseTimeout", &timeout)?;
    let _ = TIMEOUT.set(py, timeout.unbind());
    Ok(())
}

/// The Python exception for an error of the Rust client.
pub fn client_error(error: &ClientError) -> PyErr {
    let message = error.to_string();
    match error {
        ClientError::Unreachable { .. } | ClientError::Transport { .. } => {
            ServerUnavailable::new_err(message)
        }
        ClientError::Api { status, problem } => {
            let problem = serde_json::to_string(problem).unwrap_or_default();
            ApiError::new_err((message, *status, problem))
        }
        ClientError::InvalidUrl { .. } | ClientError::CaFile { .. } => {
            InvalidRequest::new_err(message)
        }
        ClientError::Timeout { .. } => timeout_error(message),
        _ => WorkhorseError::new_err(message),
    }
}

/// A `WorkhorseTimeout` (a `WorkhorseError` until the module registered the class).
fn timeout_error(message: String) -> PyErr {
    Python::attach(|py| match TIMEOUT.get(py) {
        Some(class) => PyErr::from_type(class.bind(py).clone(), message),
        None => WorkhorseError::new_err(message),
    })
}

/// Parses a request document of type `T` (`what` names it in the message), naming the
/// field at fault: `invalid enqueue request: priority: invalid type: …`.
pub fn parse_request<T: DeserializeOwned>(what: &str, text: &str) -> PyResult<T> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if inner.is_data() && path != "." {
                format!("{path}: {inner}")
            } else {
                inner.to_string()
            }
        })
        .and_then(|value| {
            deserializer
                .end()
                .map(|()| value)
                .map_err(|e| e.to_string())
        });
    parsed.map_err(|reason| InvalidRequest::new_err(format!("invalid {what}: {reason}")))
}

/// A job id given as text.
pub fn parse_job_id(text: &str) -> PyResult<workhorse_core::JobId> {
    text.parse()
        .map_err(|e| InvalidRequest::new_err(format!("invalid job id {text:?}: {e}")))
}
