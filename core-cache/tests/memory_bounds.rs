//! The in-memory backend keeps within the bound its settings give, counted
//! in entries or, with `memory.max_bytes`, in bytes of key and value.

use core_cache::backends::memory::MemorySettings;
use core_cache::{CacheSettings, connect};

const VALUE: usize = 1_000;

async fn survivors(memory: MemorySettings) -> usize {
    let mut settings = CacheSettings::from_url("memory://");
    settings.memory = memory;
    let cache = connect(&settings).await.unwrap();
    let value = "v".repeat(VALUE);
    for id in 0..500 {
        cache.set(&format!("k{id}"), &value, None).await.unwrap();
    }
    let mut kept = 0;
    for id in 0..500 {
        if cache.exists(&format!("k{id}")).await.unwrap() {
            kept += 1;
        }
    }
    kept
}

#[tokio::test]
async fn a_byte_bound_evicts_once_the_values_outgrow_it() {
    // Room for about twenty of the 500 values.
    let kept = survivors(MemorySettings {
        max_bytes: Some(20 * VALUE as u64),
        ..MemorySettings::default()
    })
    .await;
    assert!(kept > 0, "the newest values stay");
    assert!(kept <= 40, "{kept} values of {VALUE} bytes kept in 20 kB");
}

#[tokio::test]
async fn an_entry_bound_evicts_past_its_count() {
    let kept = survivors(MemorySettings {
        max_entries: 50,
        max_bytes: None,
    })
    .await;
    assert!(
        kept > 0 && kept <= 100,
        "{kept} of 500 kept with room for 50"
    );
}

#[tokio::test]
async fn within_the_bound_nothing_is_evicted() {
    let kept = survivors(MemorySettings {
        max_bytes: Some(10 * 500 * VALUE as u64),
        ..MemorySettings::default()
    })
    .await;
    assert_eq!(kept, 500);
}
