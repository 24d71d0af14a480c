//! Who a TLS server says it is: a certificate chain issued by a CA, and the leaf's private key.
//! Made from the seed for the simulation (Ed25519, so signing is deterministic too), generated
//! for live mode (ECDSA P-256), or read from PEM files (`--cert`/`--key`).

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate chain, its private key and the CA that issued it.
#[derive(Clone)]
pub struct Identity {
    ca: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
    /// The leaf certificate's subject as it appears in a handshake note, e.g.
    /// `CN=mail.example.org` (empty if the leaf has no common name).
    pub subject: String,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("subject", &self.subject)
            .field("chain", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// PKCS#8 v1 (RFC 5208, RFC 8410) for an Ed25519 private key, before its 32-byte seed:
/// `SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING (32) } }`.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

const DAY: Duration = Duration::from_secs(86_400);

/// An Ed25519 key pair whose private key is the next 32 bytes of `rng`.
fn seeded_ed25519(rng: &mut impl RngCore) -> KeyPair {
    let mut der = ED25519_PKCS8_PREFIX.to_vec();
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    der.extend_from_slice(&seed);
    KeyPair::try_from(der.as_slice()).expect("a PKCS#8 Ed25519 key from 32 bytes always loads")
}

/// A positive 16-byte serial number drawn from `rng`.
fn seeded_serial(rng: &mut impl RngCore) -> SerialNumber {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::from_slice(&bytes)
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

fn ca_params(ca_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(ca_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// # Panics
/// If `host` cannot be a subjectAltName (a DNS name must be ASCII).
fn leaf_params(host: &str) -> CertificateParams {
    let mut params = CertificateParams::new(vec![host.to_string()])
        .unwrap_or_else(|e| panic!("{host:?} cannot name a certificate: {e}"));
    params.distinguished_name = name(host);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    params
}

fn sign(
    ca: CertificateParams,
    ca_key: KeyPair,
    leaf: CertificateParams,
    leaf_key: KeyPair,
    host: &str,
) -> Identity {
    let ca_cert = ca
        .self_signed(&ca_key)
        .expect("our CA parameters are valid");
    let issuer = Issuer::new(ca, ca_key);
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .expect("our leaf parameters are valid");
    let key = PrivatePkcs8KeyDer::from(leaf_key.serialize_der());
    Identity {
        ca: ca_cert.der().clone(),
        chain: vec![leaf_cert.der().clone(), ca_cert.der().clone()],
        key: Arc::new(PrivateKeyDer::Pkcs8(key)),
        subject: format!("CN={host}"),
    }
}

impl Identity {
    /// A CA named `ca_name` and a certificate for `host` (subjectAltName and CN) that it
    /// issued, made only from `rng`: Ed25519 keys from 32 bytes of it each, serial numbers from
    /// it, validity from a day before `epoch_secs` (Unix seconds, the run's start) to 3650 days
    /// after. Ed25519 signatures are deterministic, so the same `rng` state gives byte-identical
    /// certificates; nothing is read from the operating system's clock or randomness.
    ///
    /// # Panics
    /// If `host` cannot name a certificate (a DNS name must be ASCII).
    pub fn seeded(rng: &mut impl RngCore, ca_name: &str, host: &str, epoch_secs: u64) -> Identity {
        let epoch = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(epoch_secs);
        let (not_before, not_after) = (epoch - DAY, epoch + 3650 * DAY);
        let ca_key = seeded_ed25519(rng);
        let leaf_key = seeded_ed25519(rng);
        let mut ca = ca_params(ca_name);
        ca.serial_number = Some(seeded_serial(rng));
        ca.not_before = not_before;
        ca.not_after = not_after;
        let mut leaf = leaf_params(host);
        leaf.serial_number = Some(seeded_serial(rng));
        leaf.not_before = not_before;
        leaf.not_after = not_after;
        sign(ca, ca_key, leaf, leaf_key, host)
    }

    /// A fresh CA and a certificate for `host` that it issued, for live mode: ECDSA P-256 keys
    /// from the operating system (Windows' Schannel does not do Ed25519), rcgen's default
    /// validity (1975 to 4096, no clock read).
    ///
    /// # Panics
    /// If `host` cannot name a certificate (a DNS name must be ASCII), or the operating system
    /// gives no randomness.
    pub fn generated(host: &str) -> Identity {
        let ca_key = KeyPair::generate().expect("the OS gives randomness for a P-256 key");
        let leaf_key = KeyPair::generate().expect("the OS gives randomness for a P-256 key");
        sign(
            ca_params(&format!("smtpsim CA for {host}")),
            ca_key,
            leaf_params(host),
            leaf_key,
            host,
        )
    }

    /// The chain in `cert` (PEM, the server's certificate first; the last one is taken as the
    /// issuer clients should trust) and the private key in `key` (PEM: PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Identity, String> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))
        };
        let cert_pem = read(cert)?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: not a PEM certificate file: {e}", cert.display()))?;
        let (Some(leaf), Some(ca)) = (chain.first(), chain.last()) else {
            return Err(format!(
                "{}: no certificate in it (expected -----BEGIN CERTIFICATE-----)",
                cert.display()
            ));
        };
        let subject = subject_of(leaf).unwrap_or_default();
        let ca = ca.clone();
        let key_der = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|e| {
            format!(
                "{}: no private key in it (expected -----BEGIN PRIVATE KEY-----): {e}",
                key.display()
            )
        })?;
        rustls::sign::CertifiedKey::from_der(
            chain.clone(),
            key_der.clone_key(),
            &rustls::crypto::ring::default_provider(),
        )
        .map_err(|e| format!("{}: unusable with {}: {e}", key.display(), cert.display()))?;
        Ok(Identity {
            ca,
            chain,
            key: Arc::new(key_der),
            subject,
        })
    }

    /// The issuer's certificate: the trust anchor a client needs to verify this identity.
    pub fn ca(&self) -> &CertificateDer<'static> {
        &self.ca
    }

    /// The chain a server sends, its own certificate first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The leaf's private key.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        self.key.clone_key()
    }

    /// The chain as PEM, its own certificate first (e.g. to hand the CA to a client).
    pub fn cert_pem(&self) -> String {
        self.chain.iter().map(|c| pem("CERTIFICATE", c)).collect()
    }

    /// The issuer's certificate alone as PEM (a client's `CAfile`).
    pub fn ca_pem(&self) -> String {
        pem("CERTIFICATE", &self.ca)
    }

    /// The leaf's private key as PEM (what `--key` reads back).
    pub fn key_pem(&self) -> String {
        match self.key.as_ref() {
            PrivateKeyDer::Pkcs1(k) => pem("RSA PRIVATE KEY", k.secret_pkcs1_der()),
            PrivateKeyDer::Sec1(k) => pem("EC PRIVATE KEY", k.secret_sec1_der()),
            other => pem("PRIVATE KEY", other.secret_der()),
        }
    }
}

/// `der` as one PEM block with the label `label`, 64 columns.
fn pem(label: &str, der: &[u8]) -> String {
    let encoded = base64(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The subject common name of a DER certificate as `CN=...`, if it has one.
pub fn subject_of(cert: &[u8]) -> Option<String> {
    der::subject_common_name(cert).map(|cn| format!("CN={cn}"))
}

/// Just enough DER reading to find a certificate's subject common name.
mod der {
    /// One TLV at the start of `input`: (tag, contents, rest).
    fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let len = rest[..count]
                .iter()
                .fold(0usize, |n, b| (n << 8) | usize::from(*b));
            rest = &rest[count..];
            len
        };
        if rest.len() < len {
            return None;
        }
        Some((tag, &rest[..len], &rest[len..]))
    }

    const SEQUENCE: u8 = 0x30;
    const SET: u8 = 0x31;
    const OID: u8 = 0x06;
    /// id-at-commonName, 2.5.4.3.
    const COMMON_NAME: [u8; 3] = [0x55, 0x04, 0x03];

    pub(super) fn subject_common_name(cert: &[u8]) -> Option<String> {
        let (SEQUENCE, cert, _) = tlv(cert)? else {
            return None;
        };
        let (SEQUENCE, tbs, _) = tlv(cert)? else {
            return None;
        };
        let mut rest = tbs;
        // [0] version (optional), serial, signature, issuer, validity, subject.
        let (tag, _, after) = tlv(rest)?;
        if tag == 0xa0 {
            rest = after;
        }
        for _ in 0..4 {
            rest = tlv(rest)?.2;
        }
        let (SEQUENCE, mut rdns, _) = tlv(rest)? else {
            return None;
        };
        while !rdns.is_empty() {
            let (SET, mut set, next) = tlv(rdns)? else {
                return None;
            };
            rdns = next;
            while !set.is_empty() {
                let (SEQUENCE, attribute, next) = tlv(set)? else {
                    return None;
                };
                set = next;
                let (OID, oid, value) = tlv(attribute)? else {
                    return None;
                };
                if oid == COMMON_NAME {
                    // UTF8String, PrintableString, IA5String, T61String: read as text.
                    let (_, value, _) = tlv(value)?;
                    return Some(String::from_utf8_lossy(value).into_owned());
                }
            }
        }
        None
    }
}
