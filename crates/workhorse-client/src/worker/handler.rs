//! Registered task handlers: typed ones decode their arguments and encode their output;
//! raw ones work on JSON values.

use super::TaskHandler;
use super::context::JobContext;
use super::error::TaskError;
use crate::task::{Task, decode_args};
use serde_json::{Map, Value};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use workhorse_core::Json;

/// What a handler call resolves to: the job's result, or the attempt's error.
pub(crate) type HandlerFuture = Pin<Box<dyn Future<Output = Result<Json, TaskError>> + Send>>;

/// A task implementation the worker can call for any job of its task.
pub(crate) trait Handler: Send + Sync + 'static {
    fn call(&self, ctx: JobContext) -> HandlerFuture;
}

/// A job's arguments as JSON values, for [`crate::WorkerBuilder::raw_task`] handlers.
#[derive(Debug, Clone, PartialEq)]
pub struct RawArgs {
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Map<String, Value>,
}

/// A typed handler of task `T`.
pub(crate) struct Typed<T, F> {
    handler: F,
    task: PhantomData<fn() -> T>,
}

impl<T, F> Typed<T, F> {
    pub(crate) fn new(handler: F) -> Self {
        Typed {
            handler,
            task: PhantomData,
        }
    }
}

impl<T: Task, H: TaskHandler<T>> Handler for Typed<T, H> {
    fn call(&self, ctx: JobContext) -> HandlerFuture {
        let args = match decode_args::<T::Args>(ctx.args(), ctx.kwargs()) {
            Ok(args) => args,
            // The same arguments would fail again: no point retrying.
            Err(e) => return Box::pin(std::future::ready(Err(bad_arguments(&e)))),
        };
        let running = self.handler.call(ctx, args);
        Box::pin(async move { encode_output(&running.await?) })
    }
}

/// A raw handler: arguments and result as JSON values.
pub(crate) struct Raw<F>(pub(crate) F);

impl<F, Fut> Handler for Raw<F>
where
    F: Fn(JobContext, RawArgs) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, TaskError>> + Send + 'static,
{
    fn call(&self, ctx: JobContext) -> HandlerFuture {
        let args = ctx.args().parse::<Vec<Value>>();
        let kwargs = ctx.kwargs().parse::<Map<String, Value>>();
        let (args, kwargs) = match (args, kwargs) {
            (Ok(args), Ok(kwargs)) => (args, kwargs),
            (Err(e), _) | (_, Err(e)) => {
                return Box::pin(std::future::ready(Err(bad_arguments(&e))));
            }
        };
        let running = (self.0)(ctx, RawArgs { args, kwargs });
        Box::pin(async move { encode_output(&running.await?) })
    }
}

fn bad_arguments(error: &serde_json::Error) -> TaskError {
    TaskError::fatal(format!("the job's arguments do not fit the task: {error}"))
        .with_kind("InvalidArguments")
}

fn encode_output<O: serde::Serialize>(output: &O) -> Result<Json, TaskError> {
    Json::from_value(output).map_err(|e| {
        TaskError::fatal(format!("the task's result cannot be encoded as JSON: {e}"))
            .with_kind("InvalidResult")
    })
}
