//! The fuzz targets: each takes any bytes through one decoder of untrusted
//! input and must return for every one of them, without panicking, hanging
//! or allocating without bound. Errors are fine: they are the decoder's
//! answer to garbage.

mod cluster_bodies;
mod config;

/// A target's name (its corpus folder) and its entry point.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

pub const TARGETS: &[Target] = &[
    Target {
        name: "client_stream",
        run: tessera_net::fuzzing::client_stream,
    },
    Target {
        name: "chat_command",
        run: tessera_net::fuzzing::chat_command,
    },
    Target {
        name: "velocity_forwarding",
        run: tessera_net::fuzzing::velocity_forwarding,
    },
    Target {
        name: "session_profile",
        run: tessera_net::fuzzing::session_profile,
    },
    Target {
        name: "cluster_stream",
        run: tessera_cluster::transport::fuzzing::transport_stream,
    },
    Target {
        name: "cluster_bodies",
        run: cluster_bodies::cluster_bodies,
    },
    Target {
        name: "config",
        run: config::config,
    },
    Target {
        name: "journal",
        run: tessera_world::fuzzing::journal,
    },
    Target {
        name: "region_file",
        run: tessera_world::fuzzing::region_file,
    },
    Target {
        name: "chunk_nbt",
        run: tessera_world::fuzzing::chunk_nbt,
    },
    Target {
        name: "player_dat",
        run: tessera_world::fuzzing::player_dat,
    },
    Target {
        name: "level_dat",
        run: tessera_world::fuzzing::level_dat,
    },
    Target {
        name: "legacy_region",
        run: tessera_world::fuzzing::legacy_region,
    },
];

/// The target called `name`.
pub fn find(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}
