//! Password hashing: argon2id, bcrypt and PBKDF2 round trips and known
//! vectors from other implementations, `needs_rehash`, and the policy.

use core_auth::ErrorKind;
use core_auth::password::{
    Argon2Settings, HashScheme, PasswordPolicy, Passwords, PolicySettings, bcrypt_hash,
    pbkdf2_sha256_hash,
};

const PASSWORD: &str = "correct horse battery staple";

/// Light parameters: these tests are about formats, not cost.
fn light() -> Passwords {
    Passwords::new(&Argon2Settings {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    })
    .unwrap()
}

#[test]
fn argon2id_round_trips_with_a_fresh_salt_each_time() {
    let passwords = light();
    let first = passwords.hash(PASSWORD).unwrap();
    let second = passwords.hash(PASSWORD).unwrap();
    assert!(first.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{first}");
    assert_ne!(first, second, "salted");
    assert!(passwords.verify(PASSWORD, &first).unwrap());
    assert!(
        !passwords
            .verify("correct horse battery stapler", &first)
            .unwrap()
    );
    assert!(!passwords.verify("", &first).unwrap());
    assert!(!passwords.needs_rehash(&first));
}

#[test]
fn the_default_is_owasp_argon2id() {
    let hash = Passwords::recommended().hash(PASSWORD).unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(Passwords::recommended().verify(PASSWORD, &hash).unwrap());
    // Verification uses the parameters stored in the hash, not the hasher's.
    assert!(light().verify(PASSWORD, &hash).unwrap());
}

#[test]
fn argon2_hashes_from_another_implementation_verify() {
    // Made by the reference implementation's CLI (Debian's `argon2`):
    // echo -n password | argon2 somesalt -id -t 2 -m 10 -p 2 -e (and -i, and -v 10).
    let argon2id =
        "$argon2id$v=19$m=1024,t=2,p=2$c29tZXNhbHQ$kEfNQbPvk6Q7hokW6Jrvn1Mjb9kdT/I7OXVDKsviazk";
    let argon2i =
        "$argon2i$v=19$m=1024,t=2,p=2$c29tZXNhbHQ$L5PmjAVnzK105vF+MVHkys50egOLjT2ezk1HL3KqpE0";
    let version_16 =
        "$argon2id$v=16$m=1024,t=2,p=2$c29tZXNhbHQ$IdTg/4MraRFgFxqi4VO/G6Np9VGpyb7V8uHk2VF5090";
    let passwords = light();
    assert!(passwords.verify("password", argon2id).unwrap());
    assert!(!passwords.verify("passwore", argon2id).unwrap());
    assert!(passwords.verify("password", argon2i).unwrap());
    assert!(passwords.verify("password", version_16).unwrap());
    assert!(passwords.needs_rehash(version_16), "version 16 is outdated");
    assert!(passwords.needs_rehash(argon2i), "argon2i is not argon2id");
}

#[test]
fn hashes_at_the_hashers_own_parameters_verify_through_the_buffer_pool() {
    // The same reference vector, now at this hasher's parameters: checked
    // with a pooled buffer instead of a fresh allocation.
    let argon2id =
        "$argon2id$v=19$m=1024,t=2,p=2$c29tZXNhbHQ$kEfNQbPvk6Q7hokW6Jrvn1Mjb9kdT/I7OXVDKsviazk";
    let passwords = Passwords::new(&Argon2Settings {
        memory_kib: 1024,
        iterations: 2,
        parallelism: 2,
    })
    .unwrap();
    for _ in 0..3 {
        assert!(passwords.verify("password", argon2id).unwrap());
        assert!(!passwords.verify("passwore", argon2id).unwrap());
    }
    // A pooled hash reads back through the plain path, and the other way.
    let pooled = passwords.hash(PASSWORD).unwrap();
    assert!(light().verify(PASSWORD, &pooled).unwrap());
    let plain = light().hash(PASSWORD).unwrap();
    assert!(passwords.verify(PASSWORD, &plain).unwrap());
}

#[test]
fn needs_rehash_when_parameters_change() {
    let old = light().hash(PASSWORD).unwrap();
    let stronger = Passwords::new(&Argon2Settings {
        memory_kib: 128,
        iterations: 1,
        parallelism: 1,
    })
    .unwrap();
    assert!(stronger.needs_rehash(&old));
    let more_passes = Passwords::new(&Argon2Settings {
        memory_kib: 64,
        iterations: 2,
        parallelism: 1,
    })
    .unwrap();
    assert!(more_passes.needs_rehash(&old));
    assert!(light().needs_rehash("not a hash"));
}

#[test]
fn bcrypt_round_trips_and_verifies_known_vectors() {
    let hash = bcrypt_hash(PASSWORD, 4).unwrap();
    assert!(hash.starts_with("$2b$04$"), "{hash}");
    let passwords = light();
    assert!(passwords.verify(PASSWORD, &hash).unwrap());
    assert!(
        !passwords
            .verify("Correct horse battery staple", &hash)
            .unwrap()
    );
    assert!(
        passwords.needs_rehash(&hash),
        "bcrypt is migrated to argon2id"
    );
    // OpenBSD / Openwall test vectors ($2a$ and $2y$ prefixes).
    assert!(
        passwords
            .verify(
                "U*U",
                "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
            )
            .unwrap()
    );
    assert!(
        passwords
            .verify(
                "U*U",
                "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
            )
            .unwrap()
    );
    assert!(
        !passwords
            .verify(
                "U*V",
                "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
            )
            .unwrap()
    );
}

#[test]
fn pbkdf2_round_trips_and_verifies_hashes_made_elsewhere() {
    let passwords = light();
    let hash = pbkdf2_sha256_hash(PASSWORD, 1000).unwrap();
    assert!(hash.starts_with("$pbkdf2-sha256$i=1000,l=32$"), "{hash}");
    assert!(passwords.verify(PASSWORD, &hash).unwrap());
    assert!(!passwords.verify("wrong", &hash).unwrap());
    assert!(passwords.needs_rehash(&hash));
    // Made with Python's hashlib.pbkdf2_hmac, salt "seasalt1234", 1000 rounds.
    let made_elsewhere = [
        "pbkdf2_sha256$1000$seasalt1234$JlBQ/OWmu3PcCFg2koQd315wDykzd702rqDsH8M7iWI=",
        "$pbkdf2-sha256$i=1000,l=32$c2Vhc2FsdDEyMzQ$JlBQ/OWmu3PcCFg2koQd315wDykzd702rqDsH8M7iWI",
        "$pbkdf2-sha512$i=1000,l=64$c2Vhc2FsdDEyMzQ$PQybzA+NdtFHoXPqlxBLwlrHXnCxgueyG4L06G163ivBdR6Ii2w1CuGrkoddQ5eZAsHtieAGjlehyNn27YMgog",
    ];
    for hash in made_elsewhere {
        assert!(passwords.verify(PASSWORD, hash).unwrap(), "{hash}");
        assert!(
            !passwords
                .verify("correct horse battery stapl", hash)
                .unwrap(),
            "{hash}"
        );
        assert!(passwords.needs_rehash(hash));
    }
    assert_eq!(
        HashScheme::identify(made_elsewhere[0]),
        Some(HashScheme::DjangoPbkdf2)
    );
}

#[test]
fn malformed_or_unknown_hashes_are_invalid_input_and_not_echoed() {
    let passwords = light();
    let cases = [
        "$1$pl4nted$md5crypt",
        "pl4nted-plaintext",
        "$pbkdf2-sha256$i=0,l=32$c2FsdA$pl4nted",
        "$pbkdf2-sha256$i=abc$c2FsdA$pl4nted",
        "pbkdf2_sha256$1000$salt$pl4nted!!",
        "$2b$04$pl4nted",
        "$argon2id$v=19$pl4nted",
    ];
    for hash in cases {
        let err = passwords.verify("pl4nted-password", hash).expect_err(hash);
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{hash}: {err}");
        assert!(!err.to_string().contains("pl4nted"), "{err}");
        assert!(!format!("{err:?}").contains("pl4nted"), "{err:?}");
    }
    let huge = "x".repeat(5000);
    let err = passwords.hash(&huge).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(!err.to_string().contains("xxxx"));
}

#[test]
fn zero_argon2_parameters_are_refused() {
    let err = Passwords::new(&Argon2Settings {
        memory_kib: 64,
        iterations: 0,
        parallelism: 1,
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.context_value("key"), Some("auth.passwords.argon2"));
}

#[test]
fn the_policy_lists_every_broken_rule_and_never_the_password() {
    let policy = PasswordPolicy::new(PolicySettings::default());
    assert!(policy.check("purple monkey dishwasher", &["ada"]).is_ok());

    let broken = policy.violations("qwerty", &[]);
    assert!(
        broken.iter().any(|rule| rule.contains("at least 12")),
        "{broken:?}"
    );
    assert!(
        broken.iter().any(|rule| rule.contains("too common")),
        "{broken:?}"
    );

    let common = policy.violations("PASSWORD123", &[]);
    assert!(
        common.iter().any(|rule| rule.contains("too common")),
        "case-insensitive: {common:?}"
    );

    let err = policy
        .check("ada.lovelace-rocks!", &["Ada.Lovelace@example.com"])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("user name or e-mail"), "{err}");
    assert!(!err.to_string().contains("rocks"), "{err}");

    assert!(
        policy
            .violations("aaaaaaaaaaaaaaa", &[])
            .iter()
            .any(|r| r.contains("different"))
    );
    assert!(
        policy
            .violations(&"ab1!".repeat(40), &[])
            .iter()
            .any(|r| r.contains("at most 128"))
    );
}

#[test]
fn configured_composition_and_custom_rules_apply() {
    let settings: PolicySettings = serde_json::from_str(
        r#"{"min_length": 8, "require_uppercase": true, "require_digit": true, "require_symbol": true}"#,
    )
    .unwrap();
    let policy = PasswordPolicy::new(settings).with_rule(|password| {
        password
            .to_lowercase()
            .contains("acme")
            .then(|| "must not name the company".to_string())
    });
    let broken = policy.violations("lowercase only", &[]);
    assert_eq!(broken.len(), 3, "{broken:?}");
    assert!(policy.check("Tr0ub4dor&3", &[]).is_ok());
    let err = policy.check("Acme-Tr0ub4dor&3", &[]).unwrap_err();
    assert!(err.to_string().contains("company"), "{err}");
    assert!(
        serde_json::from_str::<PolicySettings>(r#"{"min_lenght": 8}"#)
            .unwrap_err()
            .to_string()
            .contains("min_lenght")
    );
}
