#!/usr/bin/env bash
# The core-sdk features the user_service example is benchmarked with: the
# ones it needs (Cargo.toml's required-features) and the servers it runs on
# in scripts/peers.sh (PostgreSQL, Redis), nothing else.
echo "config,log,db,sqlite,cache,mq,auth,axum,web,postgres,redis"
