"""`dunning simulate`: the real workflow and worker on a time-skipping test server, to see what a
policy would do to an invoice (or a book of them) before it runs: events (`events`), the calendar
shift of invoices already under way (`shift`), the run (`runner`) and its timeline (`timeline`)."""
