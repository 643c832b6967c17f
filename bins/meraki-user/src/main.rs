fn main() -> std::process::ExitCode {
    common::driver::main::<rotate_meraki_user::MerakiUser>()
}
