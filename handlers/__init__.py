"""What the МЦУ does when something happens, whatever platform it came from."""
