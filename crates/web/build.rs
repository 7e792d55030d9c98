fn main() {
    // Always embed, in debug builds too: the tests serve the very bytes the release binary serves.
    memory_serve::load_directory_with_embed("assets", true);
}
