"""The Discord layer of articlebot: turns Discord events into engine calls and renders the results."""
