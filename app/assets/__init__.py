"""Assets on their way to a client's AMS: fetched from their source URL behind an address guard
(or taken inline), checked, and stored once in the client's Drive asset folders."""
