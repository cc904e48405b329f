"""tests/nbval_sanitize.cfg: measured values are made alike, everything else is compared as it is.

nbval applies each "regex"/"replace" pair of the file, in order, to every output it
compares. These tests apply them the same way to outputs a lesson prints.
"""

import configparser
import re
from pathlib import Path

CFG = Path(__file__).resolve().parent / "nbval_sanitize.cfg"


def sanitize(text: str) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(CFG)
    for section in parser.sections():
        text = re.sub(parser.get(section, "regex"), parser.get(section, "replace"), text)
    return text


def test_lesson_13s_measured_times_and_speed_up_are_not_compared():
    one = ("threads: 1.31 s\nray:     0.63 s  (and 1.79 s to start the processes)\n"
           "ray is 2.1x as fast, on 2 cores\n")
    other = ("threads: 12.07 s\nray:     4.5 s  (and 9.02 s to start the processes)\n"
             "ray is 0.9x as fast, on 16 cores\n")
    assert sanitize(one) == sanitize(other)
    assert "threads:" in sanitize(one) and "to start the processes" in sanitize(one)


def test_what_a_lesson_states_is_still_compared():
    for fact in ["the writer had not handled all 20 messages: True",
                 "7 takes 16 steps", "seed=4: [('hello', 5), ('world', 5), ('python', 6)]",
                 "never more than 3 messages waited: True", "[0, 2, 4, 6, 8, 10, 12, 14, 16, 18]",
                 "the source ended at step 3; 0.5 of them"]:
        changed = fact.replace("5", "7").replace("16", "17").replace("True", "False")
        assert sanitize(fact) != sanitize(changed), fact
