//! The filters, one per file, named as in the API.

pub mod accept_http_tunnel;
pub mod accept_proxy_protocol;
pub mod accept_socks;
pub mod accept_tls;
pub mod branch;
pub mod compress;
pub mod compress_http;
pub mod connect;
pub mod connect_http_tunnel;
pub mod connect_netlink;
pub mod connect_proxy_protocol;
pub mod connect_socks;
pub mod connect_tls;
pub mod connect_udp;
mod content_encoding;
pub mod decode_bgp;
pub mod decode_dubbo;
pub mod decode_http_request;
pub mod decode_http_response;
pub mod decode_mqtt;
pub mod decode_multipart;
pub mod decode_netlink;
pub mod decode_resp;
pub mod decode_thrift;
pub mod decode_websocket;
mod decode_whole;
pub mod decompress;
pub mod decompress_http;
pub mod deframe;
pub mod demux;
pub mod demux_fcgi;
pub mod demux_http;
pub mod deposit_message;
pub mod detect_protocol;
pub mod dummy;
pub mod dump;
pub mod encode_bgp;
pub mod encode_dubbo;
pub mod encode_http_request;
pub mod encode_http_response;
pub mod encode_mqtt;
pub mod encode_netlink;
pub mod encode_resp;
pub mod encode_thrift;
pub mod encode_websocket;
pub mod exec;
pub mod fork;
pub mod fork_join;
pub mod handle;
pub mod handle_tls_client_hello;
mod held;
mod http2;
mod http_server;
pub mod insert;
mod kept_input;
pub mod link;
pub mod link_async;
pub mod loop_;
pub mod mux;
pub mod mux_fcgi;
pub mod mux_http;
mod mux_pool;
pub mod pack;
pub mod pipe;
pub mod pipe_next;
pub mod print;
pub mod produce;
pub mod read;
pub mod repeat;
pub mod replace;
pub mod replay;
mod reply;
mod select;
pub mod serve_http;
pub mod split;
pub mod swap;
pub mod tee;
mod throttle;
pub mod throttle_concurrency;
pub mod throttle_data_rate;
pub mod throttle_message_rate;
mod tls_options;
mod tls_session;
mod tls_sub;
#[cfg(test)]
mod tls_tests;
pub mod wait;

use std::rc::Rc;

use boa_engine::JsResult;

use crate::args::Args;
use crate::engine::{FilterSpec, Layout};
pub use select::Select;

/// A joint filter still waiting for the layout given by `.to(...)`.
pub type Joint = Box<dyn FnOnce(Rc<Layout>) -> Box<dyn FilterSpec>>;

/// What a filter method of the designer makes from its arguments.
pub enum Made {
    Filter(Box<dyn FilterSpec>),
    Joint(Joint),
}

/// How a filter method of the designer makes its filter from the method's arguments.
#[derive(Clone, Copy)]
pub enum Maker {
    Plain(fn(&mut Args<'_>) -> JsResult<Made>),
    /// One of a family that differs only in the events it selects (`handleMessageStart`...).
    Selected(fn(Select, &mut Args<'_>) -> JsResult<Made>, Select),
}

impl Maker {
    pub fn make(self, args: &mut Args<'_>) -> JsResult<Made> {
        match self {
            Maker::Plain(f) => f(args),
            Maker::Selected(f, select) => f(select, args),
        }
    }
}

use Maker::{Plain, Selected};

/// The maker of the filter method called `name` in [`ALL`], if there is one.
pub fn maker(name: &str) -> Option<Maker> {
    ALL.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
}

/// Every filter method of the designer, by its JS name.
pub const ALL: &[(&str, Maker)] = &[
    ("connect", Plain(connect::make)),
    ("demuxHTTP", Plain(demux_http::make)),
    ("serveHTTP", Plain(serve_http::make)),
    ("muxHTTP", Plain(mux_http::make)),
    ("decodeHTTPRequest", Plain(decode_http_request::make)),
    ("decodeHTTPResponse", Plain(decode_http_response::make)),
    ("encodeHTTPRequest", Plain(encode_http_request::make)),
    ("encodeHTTPResponse", Plain(encode_http_response::make)),
    ("dump", Plain(dump::make)),
    ("fork", Plain(fork::make)),
    ("handle", Selected(handle::make, Select::All)),
    ("handleStreamStart", Selected(handle::make, Select::StreamStart)),
    ("handleMessageStart", Selected(handle::make, Select::MessageStart)),
    ("handleData", Selected(handle::make, Select::Data)),
    ("handleMessageEnd", Selected(handle::make, Select::MessageEnd)),
    ("handleStreamEnd", Selected(handle::make, Select::StreamEnd)),
    ("handleMessage", Selected(handle::make, Select::Message)),
    ("replace", Selected(replace::make, Select::All)),
    ("replaceStreamStart", Selected(replace::make, Select::StreamStart)),
    ("replaceMessageStart", Selected(replace::make, Select::MessageStart)),
    ("replaceData", Selected(replace::make, Select::Data)),
    ("replaceMessageEnd", Selected(replace::make, Select::MessageEnd)),
    ("replaceStreamEnd", Selected(replace::make, Select::StreamEnd)),
    ("replaceMessage", Selected(replace::make, Select::Message)),
    ("branch", Selected(branch::make, Select::All)),
    ("branchMessageStart", Selected(branch::make, Select::MessageStart)),
    ("branchMessage", Selected(branch::make, Select::Message)),
    ("link", Plain(link::make)),
    ("print", Plain(print::make)),
    ("acceptSOCKS", Plain(accept_socks::make)),
    ("connectSOCKS", Plain(connect_socks::make)),
    ("acceptTLS", Plain(accept_tls::make)),
    ("connectTLS", Plain(connect_tls::make)),
    ("handleTLSClientHello", Plain(handle_tls_client_hello::make)),
    ("acceptHTTPTunnel", Plain(accept_http_tunnel::make)),
    ("connectHTTPTunnel", Plain(connect_http_tunnel::make)),
    ("compressHTTP", Plain(compress_http::make)),
    ("decompressHTTP", Plain(decompress_http::make)),
    ("compress", Plain(compress::make)),
    ("decompress", Plain(decompress::make)),
    ("throttleMessageRate", Plain(throttle_message_rate::make)),
    ("throttleDataRate", Plain(throttle_data_rate::make)),
    ("encodeNetlink", Plain(encode_netlink::make)),
    ("decodeNetlink", Plain(decode_netlink::make)),
    ("repeat", Plain(repeat::make)),
    ("tee", Plain(tee::make)),
    ("decodeRESP", Plain(decode_resp::make)),
    ("encodeRESP", Plain(encode_resp::make)),
    ("decodeMultipart", Plain(decode_multipart::make)),
    ("acceptProxyProtocol", Plain(accept_proxy_protocol::make)),
    ("connectProxyProtocol", Plain(connect_proxy_protocol::make)),
    ("detectProtocol", Plain(detect_protocol::make)),
    ("split", Plain(split::make)),
    ("pack", Plain(pack::make)),
    ("forkJoin", Plain(fork_join::make_join)),
    ("forkRace", Plain(fork_join::make_race)),
    ("wait", Plain(wait::make)),
    ("insert", Plain(insert::make)),
    ("decodeMQTT", Plain(decode_mqtt::make)),
    ("encodeMQTT", Plain(encode_mqtt::make)),
    ("decodeThrift", Plain(decode_thrift::make)),
    ("encodeThrift", Plain(encode_thrift::make)),
    ("decodeBGP", Plain(decode_bgp::make)),
    ("encodeBGP", Plain(encode_bgp::make)),
    ("decodeWebSocket", Plain(decode_websocket::make)),
    ("encodeWebSocket", Plain(encode_websocket::make)),
    ("decodeDubbo", Plain(decode_dubbo::make)),
    ("encodeDubbo", Plain(encode_dubbo::make)),
    ("mux", Plain(mux::make)),
    ("muxQueue", Plain(mux::make)),
    ("demux", Plain(demux::make)),
    ("demuxQueue", Plain(demux::make)),
    ("muxFastCGI", Plain(mux_fcgi::make)),
    ("demuxFastCGI", Plain(demux_fcgi::make)),
    ("pipe", Plain(pipe::make)),
    ("pipeNext", Plain(pipe_next::make)),
    ("loop", Plain(loop_::make)),
    ("replay", Plain(replay::make)),
    ("handleMessageBody", Selected(handle::make, Select::Body)),
    ("replaceMessageBody", Selected(replace::make, Select::Body)),
    ("throttleConcurrency", Plain(throttle_concurrency::make)),
    ("dummy", Plain(dummy::make)),
    ("deframe", Plain(deframe::make)),
    ("exec", Plain(exec::make)),
    ("read", Plain(read::make)),
    ("linkAsync", Plain(link_async::make)),
    ("swap", Plain(swap::make)),
];

/// Filter methods of legacy configurations (`pipy()...`) only: Pipy's designer has none of them.
pub const LEGACY: &[(&str, Maker)] =
    &[("produce", Plain(produce::make)), ("depositMessage", Plain(deposit_message::make))];
