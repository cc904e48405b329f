"""Wrong answers to exercise 15 (every possible run)."""

from . import Wrong

ASSIGNMENT = "15_every_possible_run"
#: task 2's answer explores with task 1's never_overdrawn, and task 3's answer prints with it
DEPENDS = {"task2": "task1", "task3": "task1"}

WRONG = [
    Wrong("task1", "a balance of exactly 0 counted as overdrawn",
          edits=[("if balance < 0:", "if balance <= 0:")],
          says=["never_overdrawn([-50]) returns", "0 is not overdrawn"]),
    Wrong("task1", "only the final balance looked at",
          edits=[("""    for amount in amounts:
        balance += amount
        if balance < 0:
            return False
    return True""", """    return start + sum(amounts) >= 0""")],
          says=["never_overdrawn returns for the two examples", "as soon as the balance is below 0"]),
    Wrong("task1", "START used instead of the start it is given",
          edits=[("balance = start", "balance = START")],
          says=["never_overdrawn returns with another start", "the `start` you are given"],
          visible=False),
    Wrong("task2", "the first schedule kept, not the counterexample",
          edits=[("overdraft = ex.counterexample", "overdraft = ex['log'][0].schedule")],
          says=["counterexample schedule (printed)"]),
    Wrong("task2", "the counterexample found but not replayed",
          edits=[("bank.run_network(schedule=overdraft, trace=True, timeout=5, live=False)\n", "")],
          says=["history after the replay", "replay the schedule"]),
    Wrong("task2", "the replay run under a seed instead of the schedule",
          edits=[("bank.run_network(schedule=overdraft, trace=True, timeout=5, live=False)",
                  "bank.run_network(seed=0, trace=True, timeout=5, live=False)")],
          says=["schedule bank's last run followed", "not a seed"]),
    Wrong("task3", "a withdrawal that cannot be paid is dropped, not kept waiting",
          edits=[("        self.waiting.append(amount)\n",
                  "        if self.balance + amount < 0:\n            return []\n"
                  "        self.waiting.append(amount)\n")],
          says=["handle(-60), then handle(100)", "pay what is waiting"]),
    Wrong("task3", "waiting amounts paid only once, not after every deposit",
          edits=[("                    paying = True\n", "")],
          says=["handle(-60), then handle(100)", "while it can be paid"]),
    Wrong("task3", "the tellers still send straight to the log (the guard is left out)",
          edits=[("return network([(teller_a, guard), (teller_b, guard), (guard, log)])",
                  "return network([(teller_a, log), (teller_b, log)])")],
          says=["transform"]),
]
