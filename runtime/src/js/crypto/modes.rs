//! AES in the modes scripts use with Pipy's `Cipher`/`Decipher`, by OpenSSL's names
//! (`aes-128-cbc`, `aes-256-ecb`, `aes-192-ctr`, ...), streamed as OpenSSL streams them: CBC
//! and ECB pad with PKCS#7 and give whole blocks from `update`, the deciphering side holding
//! the last block back for `final` to unpad; CTR gives every byte at once.

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::{Aes128, Aes192, Aes256};

const BLOCK: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Cbc,
    Ecb,
    Ctr,
}

enum Key {
    A128(Aes128),
    A192(Aes192),
    A256(Aes256),
}

impl Key {
    fn encrypt(&self, block: &mut [u8]) {
        let b = GenericArray::from_mut_slice(block);
        match self {
            Key::A128(k) => k.encrypt_block(b),
            Key::A192(k) => k.encrypt_block(b),
            Key::A256(k) => k.encrypt_block(b),
        }
    }

    fn decrypt(&self, block: &mut [u8]) {
        let b = GenericArray::from_mut_slice(block);
        match self {
            Key::A128(k) => k.decrypt_block(b),
            Key::A192(k) => k.decrypt_block(b),
            Key::A256(k) => k.decrypt_block(b),
        }
    }
}

/// One direction of one cipher, fed by `update`, closed by `finish`.
pub struct Crypter {
    key: Key,
    mode: Mode,
    decrypt: bool,
    /// The chaining block (CBC) or the counter (CTR).
    iv: [u8; BLOCK],
    /// Bytes not yet a whole block (CBC, ECB), or the unused key stream (CTR).
    pending: Vec<u8>,
}

impl Crypter {
    /// `algorithm` with `key` (its exact size) and `iv` (16 bytes, or none for zeros).
    pub fn new(algorithm: &str, key: &[u8], iv: &[u8], decrypt: bool) -> Result<Crypter, String> {
        let name = algorithm.to_ascii_lowercase();
        let (bits, mode) = name
            .strip_prefix("aes-")
            .and_then(|rest| rest.split_once('-'))
            .ok_or_else(|| format!("Unknown cipher: {algorithm}"))?;
        let mode = match mode {
            "cbc" => Mode::Cbc,
            "ecb" => Mode::Ecb,
            "ctr" => Mode::Ctr,
            _ => return Err(format!("Unknown cipher: {algorithm}")),
        };
        let size = match bits {
            "128" => 16,
            "192" => 24,
            "256" => 32,
            _ => return Err(format!("Unknown cipher: {algorithm}")),
        };
        if key.len() != size {
            return Err(format!("options.key expected to have a length of {size}"));
        }
        let iv_size = if mode == Mode::Ecb { 0 } else { BLOCK };
        if !iv.is_empty() && iv.len() != iv_size {
            return Err(format!("options.iv expected to have a length of {iv_size}"));
        }
        let key = match size {
            16 => Key::A128(Aes128::new_from_slice(key).map_err(|e| e.to_string())?),
            24 => Key::A192(Aes192::new_from_slice(key).map_err(|e| e.to_string())?),
            _ => Key::A256(Aes256::new_from_slice(key).map_err(|e| e.to_string())?),
        };
        let mut block = [0; BLOCK];
        block[..iv.len()].copy_from_slice(iv);
        Ok(Crypter { key, mode, decrypt, iv: block, pending: Vec::new() })
    }

    pub fn update(&mut self, input: &[u8]) -> Vec<u8> {
        if self.mode == Mode::Ctr {
            return self.ctr(input);
        }
        self.pending.extend_from_slice(input);
        let mut whole = self.pending.len() / BLOCK * BLOCK;
        // Deciphering keeps a last whole block back: it may be the padding.
        if self.decrypt && whole == self.pending.len() {
            whole = whole.saturating_sub(BLOCK);
        }
        let mut out: Vec<u8> = self.pending.drain(..whole).collect();
        out.chunks_mut(BLOCK).for_each(|b| self.block(b));
        out
    }

    /// What is left: the padded last block, or the last block unpadded; an error if the
    /// input was not whole blocks or the padding is bad.
    pub fn finish(&mut self) -> Result<Vec<u8>, String> {
        if self.mode == Mode::Ctr {
            return Ok(Vec::new());
        }
        let mut last = std::mem::take(&mut self.pending);
        if !self.decrypt {
            let pad = BLOCK - last.len();
            last.resize(BLOCK, pad as u8);
            self.block(&mut last);
            return Ok(last);
        }
        if last.len() != BLOCK {
            return Err("wrong final block length".into());
        }
        self.block(&mut last);
        let pad = last[BLOCK - 1] as usize;
        if pad == 0 || pad > BLOCK || last[BLOCK - pad..].iter().any(|b| *b as usize != pad) {
            return Err("bad decrypt".into());
        }
        last.truncate(BLOCK - pad);
        Ok(last)
    }

    fn block(&mut self, b: &mut [u8]) {
        match (self.mode, self.decrypt) {
            (Mode::Cbc, false) => {
                b.iter_mut().zip(self.iv).for_each(|(x, c)| *x ^= c);
                self.key.encrypt(b);
                self.iv.copy_from_slice(b);
            }
            (Mode::Cbc, true) => {
                let next: [u8; BLOCK] = b.try_into().unwrap_or([0; BLOCK]);
                self.key.decrypt(b);
                b.iter_mut().zip(self.iv).for_each(|(x, c)| *x ^= c);
                self.iv = next;
            }
            (_, false) => self.key.encrypt(b),
            (_, true) => self.key.decrypt(b),
        }
    }

    fn ctr(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len());
        for &byte in input {
            if self.pending.is_empty() {
                let mut stream = self.iv;
                self.key.encrypt(&mut stream);
                self.pending.extend(stream.iter().rev());
                // The whole block is a big-endian counter, as OpenSSL counts.
                for c in self.iv.iter_mut().rev() {
                    *c = c.wrapping_add(1);
                    if *c != 0 {
                        break;
                    }
                }
            }
            out.push(byte ^ self.pending.pop().unwrap_or(0));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child =
            Command::new("openssl").args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        out.stdout
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Feeds `input` in pieces of `step` and closes.
    fn run(c: &mut Crypter, input: &[u8], step: usize) -> Vec<u8> {
        let mut out: Vec<u8> = input.chunks(step).flat_map(|p| c.update(p)).collect();
        out.extend(c.finish().unwrap());
        out
    }

    #[test]
    fn every_mode_and_size_agrees_with_openssl_enc_both_ways() {
        let message: Vec<u8> = (0..100u8).collect();
        let iv = [7u8; 16];
        for name in
            ["aes-128-cbc", "aes-192-cbc", "aes-256-cbc", "aes-128-ecb", "aes-256-ecb", "aes-128-ctr", "aes-256-ctr"]
        {
            let size = if name.contains("128") {
                16
            } else if name.contains("192") {
                24
            } else {
                32
            };
            let key: Vec<u8> = (0..size as u8).collect();
            let ecb = name.ends_with("ecb");
            let flag = format!("-{name}");
            let mut args = vec!["enc", "-e", &flag, "-K"];
            let (k, i) = (hex(&key), hex(&iv));
            args.push(&k);
            if !ecb {
                args.extend(["-iv", &i[..]]);
            }
            let want = openssl(&args, &message);
            let iv: &[u8] = if ecb { &[] } else { &iv };
            for step in [1, 15, 16, 17, 100] {
                let got = run(&mut Crypter::new(name, &key, iv, false).unwrap(), &message, step);
                assert_eq!(hex(&got), hex(&want), "{name} by {step}");
                let back = run(&mut Crypter::new(name, &key, iv, true).unwrap(), &want, step);
                assert_eq!(back, message, "{name} back by {step}");
            }
        }
    }

    #[test]
    fn sizes_and_padding_are_checked() {
        assert_eq!(
            Crypter::new("aes-128-cbc", &[0; 15], &[], false).err().unwrap(),
            "options.key expected to have a length of 16"
        );
        assert_eq!(
            Crypter::new("aes-128-cbc", &[0; 16], &[0; 8], false).err().unwrap(),
            "options.iv expected to have a length of 16"
        );
        assert_eq!(Crypter::new("des-cbc", &[0; 8], &[], false).err().unwrap(), "Unknown cipher: des-cbc");
        let mut d = Crypter::new("aes-128-cbc", &[0; 16], &[], true).unwrap();
        assert!(d.update(&[1; 16]).is_empty());
        assert_eq!(d.finish().err().unwrap(), "bad decrypt");
        let mut d = Crypter::new("aes-128-ecb", &[0; 16], &[], true).unwrap();
        d.update(&[1; 20]);
        assert_eq!(d.finish().err().unwrap(), "wrong final block length");
    }
}
