fn main() -> std::process::ExitCode {
    common::driver::main::<rotate_cisco_iosxe_user::IosXeUser>()
}
