//! `DNS.decode`/`DNS.encode` as Pipy's dns sample uses them: `dig` through the sample's
//! pipeline, in front of an upstream written with `DNS.encode`.

use std::process::Command;
use std::time::Duration;

use weir_tests::*;

/// An upstream DNS server written with `DNS.encode`, and in front of it the dns sample's
/// pipeline as Pipy ships it (its config inline): answers for blocked names are dropped.
const DNS_SCRIPT: &str = "
var config = { listen: '127.0.0.1:PROXY', server: '127.0.0.1:UP', block: ['google.com'] }

pipy.listen(UP, 'udp', $=>$.replaceData(dgram => {
  var q = DNS.decode(dgram)
  var name = q.question[0].name
  return DNS.encode({
    id: q.id, qr: 1, rd: q.rd, ra: 1,
    question: q.question,
    answer: [
      { name, type: 'A', ttl: 60, rdata: '10.0.0.1' },
      { name: 'google.com', type: 'A', ttl: 60, rdata: '10.0.0.2' },
      { name, type: 'MX', ttl: 60, rdata: { preference: 10, exchange: 'mail.' + name } },
      { name, type: 'TXT', ttl: 60, rdata: 'weir says hi' },
    ],
    authority: [{ name, type: 'SOA', ttl: 60, rdata: { mname: 'ns.' + name, rname: 'admin.' + name, serial: 7, refresh: 1, retry: 2, expire: 3, minimum: 4 } }],
    additional: q.additional,
  })
}))

pipy.listen(config.listen, 'udp', $=>$
  .connect(config.server, { protocol: 'udp' })
  .replaceData(
    function (dgram) {
      var msg = DNS.decode(dgram)
      msg.answer = msg.answer.filter(
        rec => !config.block.includes(rec.name)
      )
      return DNS.encode(msg)
    }
  )
)
";

#[test]
fn dig_through_the_dns_sample_gets_answers_without_the_blocked_names() {
    let (up, proxy) = (free_port(), free_port());
    let script = DNS_SCRIPT.replace("PROXY", &proxy.to_string()).replace("UP", &up.to_string());
    let mut weir = Weir::start(&script, &[]);
    weir.wait_stderr(&format!("Listening on UDP port {proxy}"), Duration::from_secs(10));
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", &proxy.to_string(), "example.com", "A", "+tries=1", "+time=5"])
        .args(["+noall", "+answer", "+authority", "+comments"])
        .output()
        .expect("dig (dnsutils)");
    let text = String::from_utf8_lossy(&out.stdout);
    let records: Vec<String> = text
        .lines()
        .filter(|l| l.contains("\tIN\t"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        records,
        [
            "example.com. 60 IN A 10.0.0.1",
            "example.com. 60 IN MX 10 mail.example.com.",
            "example.com. 60 IN TXT \"weir says hi\"",
            "example.com. 60 IN SOA ns.example.com. admin.example.com. 7 1 2 3 4",
        ],
        "dig:\n{text}\nweir:\n{}",
        weir.stderr().join("\n")
    );
    assert!(text.contains("status: NOERROR"), "{text}");
}
