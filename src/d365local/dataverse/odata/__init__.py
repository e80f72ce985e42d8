"""Wire formats of the Web API (URLs, query options, $filter, payloads, $batch); no I/O."""
