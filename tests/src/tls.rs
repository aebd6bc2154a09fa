//! Certificates for the TLS tests, made by the openssl command in a test's folder: two CAs
//! (`ca`, and `other` that signed nothing of ours), server certificates `a` (a.test and
//! localhost) and `b` (b.test) and a client certificate `client`, all signed by `ca`.
//! Each is `NAME.crt` and `NAME.key`, PEM.

use std::path::Path;
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

const EC: [&str; 5] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

fn ca(dir: &Path, name: &str) {
    let (key, crt, subj) = (format!("{name}.key"), format!("{name}.crt"), format!("/CN={name}"));
    openssl(
        dir,
        &[&["req", "-x509"], &EC[..], &["-keyout", &key, "-out", &crt, "-subj", &subj, "-days", "2"]].concat(),
    );
}

fn leaf(dir: &Path, name: &str, ext: &str) {
    let (key, csr, crt, extfile) =
        (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"), format!("{name}.ext"));
    std::fs::write(dir.join(&extfile), ext).unwrap();
    openssl(dir, &[&["req"], &EC[..], &["-keyout", &key, "-out", &csr, "-subj", &format!("/CN={name}")]].concat());
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &extfile,
        ],
    );
}

/// Makes every certificate and key in `dir`.
pub fn make_pki(dir: &Path) {
    ca(dir, "ca");
    ca(dir, "other");
    leaf(dir, "a", "subjectAltName=DNS:a.test,DNS:localhost\nextendedKeyUsage=serverAuth");
    leaf(dir, "b", "subjectAltName=DNS:b.test\nextendedKeyUsage=serverAuth");
    leaf(dir, "client", "extendedKeyUsage=clientAuth");
}

/// nginx serving `hello from nginx` at `/`, and the files of `dir/www` under their names,
/// over TLS with certificate `a` from `dir`, as a non-daemon child on a free port.
pub struct TlsNginx {
    pub port: u16,
    child: std::process::Child,
}

impl TlsNginx {
    pub fn start(dir: &Path) -> TlsNginx {
        let port = crate::free_port();
        let d = dir.display();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/nginx-error.log;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               server {{\n    listen 127.0.0.1:{port} ssl;\n    ssl_certificate {d}/a.crt;\n\
                 ssl_certificate_key {d}/a.key;\n    root {d}/www;\n\
                 location = / {{ return 200 'hello from nginx\\n'; }}\n  }}\n}}\n"
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let child = Command::new("nginx")
            .args(["-e", &dir.join("nginx-error.log").to_string_lossy(), "-c", &path.to_string_lossy()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run nginx (cargo xtask test installs nginx-light)");
        let mut nginx = TlsNginx { port, child };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                panic!(
                    "nginx exited ({status}): {}",
                    std::fs::read_to_string(dir.join("nginx-error.log")).unwrap_or_default()
                );
            }
            assert!(std::time::Instant::now() < deadline, "nginx did not listen");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        nginx
    }
}

impl Drop for TlsNginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
