//! argon2id with memory taken from a pool instead of the allocator.
//!
//! Each hash needs `m_cost` KiB of blocks (19 MiB by default). Freed after
//! every hash, those buffers stay in glibc's per-thread arenas, so the
//! blocking threads that ran a flood of logins kept one buffer each long
//! after it (a login and a registration left ~39 MiB behind for good).
//! Buffers handed back to a pool no larger than the hashing limit bound
//! that memory by the limit and reuse it.
//!
//! Only argon2id v19 at this hasher's own parameters uses the pool; any
//! other hash (older parameters, argon2i/d) is verified the plain way.

use std::sync::{Arc, Mutex};

use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use core_error::{Error, Result};
use ring::rand::{SecureRandom as _, SystemRandom};
use subtle::ConstantTimeEq as _;

const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;

/// Block buffers of one size, at most `keep` of them kept.
#[derive(Debug)]
pub(super) struct BlockPool {
    blocks: usize,
    keep: usize,
    free: Mutex<Vec<Vec<Block>>>,
}

impl BlockPool {
    pub(super) fn new(params: &Params, keep: usize) -> Arc<BlockPool> {
        Arc::new(BlockPool {
            blocks: params.block_count(),
            keep,
            free: Mutex::new(Vec::new()),
        })
    }

    fn take(&self) -> Vec<Block> {
        let reused = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        reused.unwrap_or_else(|| vec![Block::default(); self.blocks])
    }

    fn give_back(&self, buffer: Vec<Block>) {
        let mut free = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if free.len() < self.keep {
            free.push(buffer);
        }
    }

    /// Runs argon2id at `params` into `out` with a pooled buffer.
    fn run(&self, params: &Params, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<()> {
        let mut buffer = self.take();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let result = argon2.hash_password_into_with_memory(password, salt, out, &mut buffer[..]);
        self.give_back(buffer);
        result.map_err(|err| {
            Error::internal(format!("argon2id hashing failed: {err}"))
                .with_operation("auth.hash_password")
        })
    }

    /// A PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) for `password`
    /// with a fresh random salt.
    pub(super) fn hash(&self, params: &Params, password: &str) -> Result<String> {
        let mut salt = [0_u8; SALT_LEN];
        SystemRandom::new().fill(&mut salt).map_err(|_| {
            Error::internal("no randomness for a password salt")
                .with_operation("auth.hash_password")
        })?;
        let mut out = [0_u8; OUTPUT_LEN];
        self.run(params, password.as_bytes(), &salt, &mut out)?;
        Ok(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
            B64.encode(salt),
            B64.encode(out)
        ))
    }

    /// `Some(matches)` for an argon2id v19 hash at exactly `params`; `None`
    /// for any other hash, which the caller verifies the plain way.
    pub(super) fn verify(
        &self,
        params: &Params,
        password: &str,
        hash: &str,
    ) -> Option<Result<bool>> {
        let expected_head = format!(
            "$argon2id$v=19$m={},t={},p={}$",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        );
        let rest = hash.strip_prefix(&expected_head)?;
        let (salt, digest) = rest.split_once('$')?;
        let salt = B64.decode(salt).ok()?;
        let digest = B64.decode(digest).ok()?;
        if digest.len() < Params::MIN_OUTPUT_LEN || digest.len() > 64 {
            return None;
        }
        let mut out = vec![0_u8; digest.len()];
        Some(
            self.run(params, password.as_bytes(), &salt, &mut out)
                .map(|()| bool::from(out.ct_eq(&digest))),
        )
    }
}
