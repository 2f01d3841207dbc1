//! `herald-worker`: the delivery engine alone, for deployments on a shared store.
//! Logic lives in `herald-delivery`; `herald-app` wires settings and backends.
fn main() -> std::process::ExitCode {
    herald_app::main_role("herald-worker")
}
