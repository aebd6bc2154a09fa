//! Pure byte encodings: the protocol codecs the filters use and the C layouts of BPF map
//! entries and socket options. They know bytes and heads, not pipelines or scripts.

pub mod c_layout;
pub mod compress;
pub mod der;
pub mod h2c;
pub mod http1;
pub mod multipart;
pub mod netlink;
pub mod proxy_protocol;
pub mod resp;
pub mod socks;
pub mod tls_hello;
pub mod tree;
pub mod x509;
