//! `herald`: API, delivery engine and admin commands in one binary.
//! Logic lives in the library crates; `herald-app` wires them.
fn main() -> std::process::ExitCode {
    herald_app::main_herald()
}
