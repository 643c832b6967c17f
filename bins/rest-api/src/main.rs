fn main() -> std::process::ExitCode {
    common::driver::main::<rotate_rest_api::RestApi>()
}
