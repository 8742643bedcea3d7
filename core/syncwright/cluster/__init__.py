"""Cluster access: the only package that imports the ``kubernetes`` client.

Import the submodules (``client``, ``discovery``, ``cache``) explicitly; this
package module stays empty so importing ``syncwright.cluster`` is free.
"""
