"""The VK adapter: Bots Long Poll and Callback API for the community, wall pollers for pages and publics, replies."""
