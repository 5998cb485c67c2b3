"""Secret values that break naive quoting: shared by the tests of every format that writes values."""

HOSTILE = [
    "",
    "'",
    '"',
    "$HOME",
    "${HOME}",
    "a\nb",
    "\\n",
    "back\\slash",
    'it\'s "both" $x `y`',
    "#not-a-comment",
    " padded ",
    "line\r\nbreak",
    "tab\there",
    "$(cmd)",
    "'; rm -rf / #",
    "ünïcødé ✓",
    "{{ not-a-placeholder }}",
    "trailing newline\n",
]
