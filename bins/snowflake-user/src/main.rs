fn main() -> std::process::ExitCode {
    common::driver::main::<rotate_snowflake_user::SnowflakeUser>()
}
