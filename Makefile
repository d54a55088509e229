# The two commands of the README. Both do all set-up themselves (cached under ~/.cache/medley).
PYTHON ?= python3

.PHONY: demo test down
demo:
	$(PYTHON) -m medley demo
test:
	$(PYTHON) -m medley test
down:
	$(PYTHON) -m medley down
