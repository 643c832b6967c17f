fn main() -> std::process::ExitCode {
    common::driver::main::<rotate_okta_user::OktaUser>()
}
