//! Pure byte encodings: the protocol codecs the filters use and the C layouts of BPF map
//! entries and socket options. They know bytes and heads, not pipelines or scripts.

pub mod argv;
pub mod bgp;
pub mod bgp_encode;
pub mod c_layout;
pub mod compress;
pub mod der;
pub mod dns;
pub mod dubbo;
pub mod fcgi;
pub mod fields;
pub mod h2c;
pub mod hessian;
pub mod http1;
pub mod mqtt;
pub mod mqtt_encode;
pub mod multipart;
pub mod netlink;
pub mod protobuf;
pub mod proxy_protocol;
pub mod resp;
pub mod socks;
pub mod stun;
pub mod thrift;
pub mod thrift_encode;
mod thrift_scan;
pub mod tls_hello;
pub mod tree;
pub mod websocket;
pub mod x509;
