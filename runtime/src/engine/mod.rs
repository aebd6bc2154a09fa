//! The pipeline engine: events, layouts built at configuration time, and the pipelines
//! instantiated from them at traffic time. It asks the script only through [`host::Host`].

pub mod budget;
pub mod busy;
pub mod charge;
pub mod collect;
pub mod context;
pub mod event;
pub mod gauge;
pub mod given;
pub mod host;
pub mod hub;
pub mod inbound;
mod live;
pub mod metrics;
pub mod outbound;
pub mod pace;
pub mod pass;
pub mod pipeline;
pub mod quota;
pub mod series;
pub mod sub;

pub use context::{Context, ReaderHold};
pub use event::{Event, Head, StreamError};
pub use gauge::{Gauge, Held};
pub use given::Given;
pub use host::{Callback, Host, Value, host};
pub use inbound::Inbound;
pub use pace::Pace;
pub use pass::{KernelSink, Pass};
pub use pipeline::{EventSink, Filter, FilterEnv, FilterSpec, Layout, Output, Pipeline, StartSpec};
pub use sub::{Registry, Sub, SubRef};
