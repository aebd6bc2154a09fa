//! Protocol codecs used by the filters. They know bytes and heads, not pipelines.

pub mod http1;
