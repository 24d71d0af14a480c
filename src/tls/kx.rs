//! X25519 key exchange (RFC 7748) for the seeded provider: the ephemeral private key is 32 bytes
//! of the thread's seeded randomness ([`super::random`]), so the key share a handshake sends
//! replays from the seed. (ring's X25519 takes its key from the operating system and its
//! randomness trait is sealed, hence x25519-dalek.)

use rustls::crypto::{ActiveKeyExchange, SharedSecret, SupportedKxGroup};
use rustls::{Error, NamedGroup, PeerMisbehaved};
use x25519_dalek::{PublicKey, StaticSecret};

use super::random;

/// The seeded X25519 group, as a provider's `kx_groups` entry.
pub static X25519: &dyn SupportedKxGroup = &SeededX25519;

/// X25519 whose ephemeral keys come from the thread's seeded randomness.
#[derive(Debug)]
pub struct SeededX25519;

impl SupportedKxGroup for SeededX25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, Error> {
        let mut bytes = [0u8; 32];
        random::fill(&mut bytes)?;
        let secret = StaticSecret::from(bytes);
        let public = PublicKey::from(&secret).to_bytes();
        Ok(Box::new(Exchange { secret, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

/// One key exchange in progress: our private key and the public key we sent.
struct Exchange {
    secret: StaticSecret,
    public: [u8; 32],
}

impl ActiveKeyExchange for Exchange {
    fn complete(self: Box<Self>, peer_pub_key: &[u8]) -> Result<SharedSecret, Error> {
        let peer: [u8; 32] = peer_pub_key
            .try_into()
            .map_err(|_| PeerMisbehaved::InvalidKeyShare)?;
        let shared = self.secret.diffie_hellman(&PublicKey::from(peer));
        // A low-order peer point gives an all-zero secret: refuse it, as ring does.
        if !shared.was_contributory() {
            return Err(PeerMisbehaved::InvalidKeyShare.into());
        }
        Ok(SharedSecret::from(&shared.as_bytes()[..]))
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}
