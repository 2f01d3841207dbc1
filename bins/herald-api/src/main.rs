//! `herald-api`: the REST API alone, for deployments on a shared store.
//! Logic lives in `herald-api`; `herald-app` wires settings and backends.
fn main() -> std::process::ExitCode {
    herald_app::main_role("herald-api")
}
