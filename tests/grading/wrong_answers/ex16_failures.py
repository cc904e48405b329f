"""Wrong answers to exercise 16 (failures and failure detection)."""

from . import Wrong

ASSIGNMENT = "16_failures"

#: task 3's visible checks run the student's Sender (task 2) with their Receiver
DEPENDS = {"task3": "task2"}

WRONG = [
    Wrong("task1", "forgets the goodbye: suspects the worker once the run's heartbeats stop",
          edits=[("            if self.suspected or self.left:", "            if self.suspected:")],
          says=["without faults", "bye"]),
    Wrong("task1", "suspects again on every timeout, not once per silence",
          edits=[("            if self.suspected or self.left:", "            if self.left:")],
          says=["5 seconds late", "one suspicion per silence"]),
    Wrong("task1", "says 'trust' on every heartbeat, not only after a suspicion",
          edits=[("        if self.suspected:\n            self.suspected = False\n"
                  "            return (\"trust\", beat)\n        return None",
                  "        self.suspected = False\n        return (\"trust\", beat)")],
          says=["without faults"]),
    Wrong("task1", "suspects without saying when (no msg.at)",
          edits=[("return (\"suspect\", msg.at)", "return (\"suspect\", None)")],
          says=["msg.at"]),
    Wrong("task2", "gives up on a message after one retry (lesson: Mistake 1)",
          edits=[("        self.unacked = {}\n", "        self.unacked = {}\n        self.retried = set()\n"),
                 ("            seq = min(self.unacked)\n",
                  "            fresh = [s for s in sorted(self.unacked) if s not in self.retried]\n"
                  "            if not fresh:\n                return None\n"
                  "            seq = fresh[0]\n            self.retried.add(seq)\n")],
          says=["never reached the inbox", "resent word can be lost again"]),
    Wrong("task2", "retries even when everything is acknowledged: the loop never goes quiet",
          edits=[("            if not self.unacked:\n                return None\n",
                  "            if not self.unacked:\n"
                  "                return (self.next_seq - 1, \"again\")\n")],
          says=["did not run to the end", "return None"]),
    Wrong("task2", "sends the word alone, without its sequence number",
          edits=[("        return (seq, msg)\n", "        return msg\n")],
          says=["did not run to the end"]),
    Wrong("task2", "crosses a message off with pop(seq): a second acknowledgement fails",
          edits=[("self.unacked.pop(msg[1], None)", "self.unacked.pop(msg[1])")],
          says=["did not run to the end"], visible=False),
    Wrong("task3", "does not acknowledge a copy: the sender retries forever (lesson: Mistake 2)",
          edits=[("            return [(\"ack\", seq), None]", "            return [None, None]")],
          says=["acknowledge the copy"]),
    Wrong("task3", "recognises copies by their word, not their sequence number (lesson: Mistake 3)",
          edits=[("        if seq in self.delivered:", "        if word in self.delivered:"),
                 ("        self.delivered.add(seq)", "        self.delivered.add(word)")],
          says=["same sequence number"]),
    Wrong("task3", "delivers every copy",
          edits=[("            return [(\"ack\", seq), None]", "            return [(\"ack\", seq), word]")],
          says=["deliver nothing"]),
    Wrong("task3", "keeps the delivered numbers in the class, shared by every receiver",
          edits=[("class Receiver:\n    def __init__(self):\n        self.delivered = set()\n",
                  "class Receiver:\n    delivered = set()\n\n    def __init__(self):\n        pass\n")],
          says=["Receiver().handle"]),
]
