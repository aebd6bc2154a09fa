//! The pipeline engine: events, layouts built at configuration time, and the pipelines
//! instantiated from them at traffic time.

pub mod context;
pub mod event;
pub mod pipeline;

pub use context::Context;
pub use event::{Event, Head, StreamError};
pub use pipeline::{EventSink, Filter, FilterEnv, FilterSpec, Layout, Output, Pipeline, StartSpec};
