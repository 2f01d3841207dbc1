//! `herald`: API, delivery engine and admin commands in one binary.
//! Logic lives in the library crates; `herald-app` wires them.

/// mimalloc instead of glibc's allocator: sled allocates and frees a node copy on
/// most writes, and glibc's arenas spent about a fifth of Herald's CPU on it at
/// saturation (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    herald_app::main_herald()
}
