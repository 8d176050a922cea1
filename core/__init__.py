"""censorscope core: load a subject model and its SAE, inspect features, steer and compare.

Pure logic with typed results; never imports gradio.
"""
