vcl 4.1;
# Varnish for workload D with default timeouts (first_byte_timeout 60s)
# and grace, no probe.
import std;

backend origin {
    .host = "127.0.0.1";
    .port = "18000";
}

sub vcl_backend_response {
    set beresp.grace = 24h;
}
