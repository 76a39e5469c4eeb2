//! Typed tasks: a [`Task`] names a task and its argument and output types, so producers and
//! workers agree on the payload at compile time.
//!
//! How typed arguments travel (so Python and the CLI can call Rust tasks, and back):
//! an `Args` value that serializes to a JSON object goes in `kwargs` (`args` empty);
//! anything else goes as the single positional argument (`args = [value]`). A worker reads
//! them back the same way, and also accepts what other producers send: several positional
//! arguments decode as a sequence (a tuple or `Vec`), no arguments as `null`, `{}` or `[]`.

use crate::api::Enqueued;
use crate::client::Client;
use crate::error::ClientError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;
use workhorse_core::{Backoff, JobId, JobState, Json};
use workhorse_protocol::{EnqueueRequest, JobView};

/// A task: its name, its argument and output types, and its default options.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use workhorse_client::{Task, TaskOptions};
///
/// #[derive(Serialize, Deserialize)]
/// struct Welcome { email: String }
///
/// struct SendWelcome;
/// impl Task for SendWelcome {
///     const NAME: &'static str = "emails.send_welcome";
///     type Args = Welcome;
///     type Output = bool;
///     fn options() -> TaskOptions {
///         TaskOptions { queue: Some("emails".into()), retries: Some(5), ..TaskOptions::default() }
///     }
/// }
/// ```
pub trait Task: Send + Sync + 'static {
    /// The task name workers register and jobs carry.
    const NAME: &'static str;
    /// The arguments, serialized into the job (see the module docs for how).
    type Args: Serialize + DeserializeOwned + Send + 'static;
    /// What the task returns, kept as the job's result.
    type Output: Serialize + DeserializeOwned + Send + 'static;

    /// Defaults for every job of this task; override per job on the [`EnqueueRequest`].
    fn options() -> TaskOptions {
        TaskOptions::default()
    }
}

/// Per-task defaults applied when a job is enqueued. `None` leaves the server's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskOptions {
    /// The queue (server default `default`).
    pub queue: Option<String>,
    /// 0–9, higher first.
    pub priority: Option<u8>,
    /// Retries after the first attempt: `max_attempts = retries + 1`.
    pub retries: Option<u32>,
    /// Backoff between attempts.
    pub backoff: Option<Backoff>,
    /// Time limit of one attempt.
    pub timeout: Option<Duration>,
}

impl TaskOptions {
    /// The queue these options name, or `default`.
    pub fn queue_name(&self) -> &str {
        self.queue
            .as_deref()
            .unwrap_or(workhorse_core::queue::DEFAULT_QUEUE)
    }
}

/// The enqueue request for one job of `T` with `args` and `T`'s default options.
/// Change it (key, delay, priority…) before handing it to [`Client::enqueue`].
pub fn request<T: Task>(args: &T::Args) -> Result<EnqueueRequest, ClientError> {
    let options = T::options();
    let (args, kwargs) = encode_args(args)?;
    Ok(EnqueueRequest {
        queue: options.queue,
        args: Some(args),
        kwargs,
        priority: options.priority.map(i64::from),
        max_attempts: options.retries.map(|r| r.saturating_add(1)),
        backoff: options.backoff,
        timeout_ms: options.timeout.map(|t| t.as_millis() as u64),
        ..EnqueueRequest::new(T::NAME)
    })
}

/// The successful output of a job of `T`, or why there is none.
pub fn output<T: Task>(job: &JobView) -> Result<T::Output, ClientError> {
    if job.state != JobState::Succeeded {
        return Err(ClientError::NotSucceeded {
            id: job.id,
            state: job.state,
            last_error: job
                .errors
                .last()
                .map(|e| format!("{}: {}", e.kind, e.message)),
        });
    }
    let text = job.result.as_ref().map_or("null", Json::get);
    serde_json::from_str(text).map_err(|source| ClientError::Payload {
        what: "the job's result",
        source,
    })
}

impl Client {
    /// Enqueues one job of `T` with `T`'s default options.
    pub async fn enqueue_task<T: Task>(&self, args: &T::Args) -> Result<Enqueued, ClientError> {
        self.enqueue(request::<T>(args)?).await
    }

    /// Waits up to `timeout` for a job of `T` and returns its typed output; an error if it
    /// did not succeed in time.
    pub async fn wait_for_output<T: Task>(
        &self,
        id: JobId,
        timeout: Duration,
    ) -> Result<T::Output, ClientError> {
        output::<T>(&self.wait_for_result(id, timeout).await?)
    }
}

fn payload_error(what: &'static str) -> impl FnOnce(serde_json::Error) -> ClientError {
    move |source| ClientError::Payload { what, source }
}

/// Typed arguments as the job's `args` and `kwargs` (see the module docs).
pub(crate) fn encode_args<A: Serialize>(args: &A) -> Result<(Json, Option<Json>), ClientError> {
    let value = serde_json::to_value(args).map_err(payload_error("the task's arguments"))?;
    let encode = |v: &Value| Json::from_value(v).map_err(payload_error("the task's arguments"));
    if value.is_object() {
        Ok((Json::empty_array(), Some(encode(&value)?)))
    } else {
        Ok((encode(&Value::Array(vec![value]))?, None))
    }
}

/// Typed arguments read back from a job's `args` and `kwargs` (see the module docs).
pub(crate) fn decode_args<A: DeserializeOwned>(
    args: &Json,
    kwargs: &Json,
) -> Result<A, serde_json::Error> {
    let args: Vec<Value> = args.parse()?;
    let kwargs: serde_json::Map<String, Value> = kwargs.parse()?;
    match args.as_slice() {
        [] if !kwargs.is_empty() => serde_json::from_value(Value::Object(kwargs)),
        [] => first_ok([Value::Null, Value::Object(kwargs), Value::Array(Vec::new())]),
        [single] => first_ok([single.clone(), Value::Array(args.clone())]),
        _ => serde_json::from_value(Value::Array(args)),
    }
}

/// The first candidate that decodes, or the first candidate's error.
fn first_ok<A: DeserializeOwned, const N: usize>(
    candidates: [Value; N],
) -> Result<A, serde_json::Error> {
    let mut first_error = None;
    for candidate in candidates {
        match serde_json::from_value(candidate) {
            Ok(value) => return Ok(value),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| serde::de::Error::custom("no arguments")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Welcome {
        email: String,
    }

    fn round_trip<A: Serialize + DeserializeOwned>(value: &A) -> A {
        let (args, kwargs) = encode_args(value).expect("encode");
        decode_args(&args, &kwargs.unwrap_or_else(Json::empty_object)).expect("decode")
    }

    fn decode<A: DeserializeOwned>(args: &str, kwargs: &str) -> Result<A, serde_json::Error> {
        decode_args(
            &Json::from_raw(args).expect("json"),
            &Json::from_raw(kwargs).expect("json"),
        )
    }

    #[test]
    fn structs_travel_as_kwargs_others_as_one_argument() {
        let (args, kwargs) = encode_args(&Welcome {
            email: "a@b".into(),
        })
        .expect("encode");
        assert_eq!(
            (args.get(), kwargs.map(|k| k.get().to_owned())),
            ("[]", Some(r#"{"email":"a@b"}"#.to_owned()))
        );
        let (args, kwargs) = encode_args(&vec![1, 2]).expect("encode");
        assert_eq!((args.get(), kwargs.is_none()), ("[[1,2]]", true));
    }

    #[test]
    fn typed_arguments_round_trip() {
        let welcome = Welcome {
            email: "a@b".into(),
        };
        assert_eq!(round_trip(&welcome), welcome);
        assert_eq!(round_trip(&vec![vec![0u8; 0]]), vec![Vec::<u8>::new()]);
        assert_eq!(round_trip(&(1, "x".to_owned())), (1, "x".to_owned()));
        assert_eq!(round_trip(&7u32), 7);
        round_trip(&());
    }

    #[test]
    fn other_producers_arguments_decode() {
        assert_eq!(decode::<(i32, i32)>("[1,2]", "{}").expect("tuple"), (1, 2));
        assert_eq!(decode::<(i32,)>("[5]", "{}").expect("1-tuple"), (5,));
        assert_eq!(decode::<i32>("[5]", "{}").expect("scalar"), 5);
        decode::<()>("[]", "{}").expect("unit");
        assert_eq!(
            decode::<Vec<i32>>("[]", "{}").expect("empty"),
            Vec::<i32>::new()
        );
        assert!(decode::<Welcome>("[]", "{}").is_err());
    }
}
