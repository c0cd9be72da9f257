mod params;
mod server;

fn main() {
    server::run();
}
