//! Weir: a Pipy-compatible programmable proxy runtime.
//!
//! A script (run by Boa) builds pipelines of filters; the filters (Rust) move the bytes.
//! See `engine` for the pipeline model, `js` for the host objects, `filters` for the
//! filters, `bpf` for the eBPF glue.

pub mod admin;
pub mod args;
pub mod bpf;
pub mod cli;
pub mod codec;
pub mod engine;
pub mod filters;
pub mod js;
pub mod log;
pub mod log_file;
pub mod net;
pub mod open_files;
pub mod options;
pub mod reloads;
pub mod tls_material;
pub mod worker;

use std::sync::Mutex;
use tokio::sync::mpsc::UnboundedSender as Sender;

static EXIT: Mutex<Option<Sender<i32>>> = Mutex::new(None);

/// Where `pipy.exit(code)` sends its code: the main thread exits with it.
pub fn set_exit_channel(tx: Sender<i32>) {
    *EXIT.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
}

/// Asks the main thread to stop at once with `code` (exit callbacks do not run).
pub fn request_exit(code: i32) {
    if let Some(tx) = EXIT.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        let _ = tx.send(code);
    }
}
