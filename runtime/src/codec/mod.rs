//! Pure byte encodings: the protocol codecs the filters use and the C layouts of BPF map
//! entries and socket options. They know bytes and heads, not pipelines or scripts.

pub mod c_layout;
pub mod compress;
pub mod http1;
pub mod proxy_protocol;
pub mod socks;
